//! Image references: `registry/path`, `registry/path:tag`, `registry/path@sha256:...`, validated with the
//! grammar the docker CLI and registries use, before anything runs.

use crate::{Error, Result};
use std::fmt;

/// Docker Hub's name as written by people, and the host its API lives on.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A repository: the registry host (with port) and the path inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repo {
    /// `127.0.0.1:5000`, `123.dkr.ecr.eu-west-1.amazonaws.com`, `docker.io`.
    pub registry: String,
    /// `team/app` (`library/nginx` for Docker Hub official images).
    pub path: String,
}

/// What follows the repository: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(String),
}

impl Reference {
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(t) | Reference::Digest(t) => t,
        }
    }
    /// A tag or a digest, told apart by the `algo:hex` shape.
    pub fn parse(s: &str) -> Result<Reference> {
        if s.contains(':') {
            validate_digest(s)?;
            Ok(Reference::Digest(s.to_string()))
        } else {
            validate_tag(s)?;
            Ok(Reference::Tag(s.to_string()))
        }
    }
}

/// A repository and a tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repo: Repo,
    pub reference: Reference,
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            Reference::Tag(t) => write!(f, "{}:{t}", self.repo),
            Reference::Digest(d) => write!(f, "{}@{d}", self.repo),
        }
    }
}

impl Repo {
    /// Parse `registry/path` (no tag). The first component is the registry when it has a `.` or `:` or is
    /// `localhost`; otherwise the repository is on Docker Hub (`library/` added to one-component names).
    pub fn parse(s: &str) -> Result<Repo> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::usage("empty image repository").hint("pass --image REGISTRY/NAME"));
        }
        if s.contains('@') || last_component(s).contains(':') {
            return Err(Error::usage(format!(
                "`{s}` is an image reference with a tag or digest, not a repository"
            ))
            .hint("give the repository alone (--image registry/name) and the tags with --tags"));
        }
        let (registry, path) = match s.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), s.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        validate_registry(&registry, s)?;
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        validate_path(&path, s)?;
        Ok(Repo { registry, path })
    }

    /// The host (and port) the distribution API is served on.
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            repo: self.clone(),
            reference: Reference::Tag(tag.to_string()),
        }
    }

    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            repo: self.clone(),
            reference: Reference::Digest(digest.to_string()),
        }
    }
}

/// `docker.io` → `registry-1.docker.io`; others unchanged.
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

fn last_component(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

impl ImageRef {
    /// Parse `repo:tag` or `repo@sha256:...`. A reference without either is an error unless
    /// `default_tag` is given.
    pub fn parse(s: &str, default_tag: Option<&str>) -> Result<ImageRef> {
        let s = s.trim();
        if let Some((repo, digest)) = s.split_once('@') {
            validate_digest(digest)?;
            return Ok(ImageRef {
                repo: Repo::parse(repo)?,
                reference: Reference::Digest(digest.to_string()),
            });
        }
        let last = last_component(s);
        if let Some(idx) = last.rfind(':') {
            let split = s.len() - last.len() + idx;
            let (repo, tag) = (&s[..split], &s[split + 1..]);
            validate_tag(tag)?;
            return Ok(ImageRef {
                repo: Repo::parse(repo)?,
                reference: Reference::Tag(tag.to_string()),
            });
        }
        match default_tag {
            Some(t) => Ok(Repo::parse(s)?.with_tag(t)),
            None => Err(Error::usage(format!("`{s}` has no tag or digest"))
                .hint("write it as REPOSITORY:TAG or REPOSITORY@sha256:...")),
        }
    }
}

/// Longest image reference accepted.
pub const MAX_REFERENCE_LEN: usize = 512;

/// `[REGISTRY[:PORT]/]PATH[:TAG][@DIGEST]` as a deploy names an image: a tag and a digest may both be given
/// (the digest is what runs; the tag is returned for people), neither means `latest`. The one grammar of
/// image references for every tool.
pub fn parse_image(s: &str) -> Result<(ImageRef, Option<String>)> {
    if s.len() > MAX_REFERENCE_LEN || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            Error::usage("the image reference is too long, or it holds spaces or control characters").hint(format!(
                "an image reference is at most {MAX_REFERENCE_LEN} printable characters"
            )),
        );
    }
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    let named = ImageRef::parse(name_tag, Some("latest"))?;
    let tag = match &named.reference {
        Reference::Tag(t) if last_component(name_tag).contains(':') => Some(t.clone()),
        _ => None,
    };
    match digest {
        Some(d) => {
            validate_digest(d)?;
            Ok((named.repo.with_digest(d), tag))
        }
        None => Ok((named, tag)),
    }
}

/// A docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !tag.starts_with(['.', '-']);
    if ok {
        return Ok(());
    }
    let hint = if tag.contains('+') {
        "docker tags cannot hold `+` (semver build metadata): use version-detect's docker_tags, which replace it with `-`"
    } else if tag.is_empty() {
        "remove the empty entry from --tags"
    } else if tag.len() > 128 {
        "docker tags are at most 128 characters"
    } else {
        "a docker tag is letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
    };
    Err(Error::usage(format!("invalid docker tag `{tag}`")).hint(hint))
}

/// `sha256:<64 hex>` (or another algorithm with its hex).
pub fn validate_digest(d: &str) -> Result<()> {
    let ok = match d.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        }
        Some(("sha512", hex)) => {
            hex.len() == 128 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("invalid digest `{d}`")).hint("a digest looks like sha256:<64 lower-case hex digits>"))
    }
}

/// `host[:port]` (an IPv6 host in brackets): host labels of letters, digits, `.` and `-`; a port of 1 to 5
/// digits.
fn validate_registry(registry: &str, whole: &str) -> Result<()> {
    let host = host_part(registry);
    let port = &registry[host.len()..];
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner.ends_with(']')
            && inner.len() > 1
            && inner[..inner.len() - 1]
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':')
    } else {
        !host.is_empty()
            && !host.starts_with(['.', '-'])
            && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    let ok = host_ok && port_ok;
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("invalid registry host `{registry}` in `{whole}`"))
            .hint("a registry is HOST or HOST:PORT, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com"))
    }
}

/// Path components: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, joined by `/`.
fn validate_path(path: &str, whole: &str) -> Result<()> {
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(Error::usage(format!(
            "invalid repository `{whole}`: repository names must be lower case"
        ))
        .hint(format!("use `{}`", whole.to_ascii_lowercase())));
    }
    let ok = path.len() <= 255 && path.split('/').all(valid_component);
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("invalid repository `{whole}`")).hint(
            "path components are lower-case letters and digits separated by `.`, `_`, `__` or `-`, joined by `/`",
        ))
    }
}

fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.chars().all(|ch| ch == '-')) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Is this registry reached over plain HTTP? Loopback hosts and the ones named with `--insecure-registry`.
pub fn is_plain_http(registry: &str, insecure: &[String]) -> bool {
    let host = host_part(registry);
    let loopback = host == "localhost"
        || host == "[::1]"
        || host == "::1"
        || host
            .strip_prefix("127.")
            .is_some_and(|rest| rest.split('.').count() == 3 && rest.split('.').all(|p| p.parse::<u8>().is_ok()));
    loopback || insecure.iter().any(|i| i.trim() == registry || i.trim() == host)
}

/// `host:port` → `host` (IPv6 in brackets kept).
pub fn host_part(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry.split_inclusive(']').next().unwrap_or(registry);
    }
    registry.split(':').next().unwrap_or(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repositories() {
        let r = Repo::parse("127.0.0.1:5000/team/app").unwrap();
        assert_eq!((r.registry.as_str(), r.path.as_str()), ("127.0.0.1:5000", "team/app"));
        let r = Repo::parse("nginx").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/nginx");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Repo::parse("localhost/a").unwrap();
        assert_eq!(r.registry, "localhost");
        assert!(Repo::parse("acme/app:1.0").is_err());
        assert!(Repo::parse("reg.example.test/a__b/c-d/e.f/g---h").is_ok());
        assert!(Repo::parse("reg.example.test/a___b").is_err());
        assert!(Repo::parse("reg.example.test/-a").is_err());
        assert!(Repo::parse("reg.example.test/a//b").is_err());
    }

    #[test]
    fn uppercase_repository_is_rejected_with_hint() {
        let e = Repo::parse("127.0.0.1:5000/Team/App").unwrap_err();
        assert_eq!(e.code, crate::ExitCode::Usage);
        assert!(e.one_line().contains("lower case") && e.one_line().contains("127.0.0.1:5000/team/app"));
    }

    #[test]
    fn tags() {
        for ok in ["1.2.3", "latest", "_x", "1.2.4-dev.5-g1a2b3c4", &"a".repeat(128)] {
            validate_tag(ok).unwrap();
        }
        for bad in ["1.2.3+meta", "", ".x", "-x", "a/b", "a:b", &"a".repeat(129)] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
        assert!(validate_tag("1.2.3+meta")
            .unwrap_err()
            .one_line()
            .contains("build metadata"));
    }

    #[test]
    fn image_refs() {
        let r = ImageRef::parse("127.0.0.1:5000/app:1.2", None).unwrap();
        assert_eq!(r.reference, Reference::Tag("1.2".into()));
        assert_eq!(r.to_string(), "127.0.0.1:5000/app:1.2");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("127.0.0.1:5000/app@{d}"), None).unwrap();
        assert_eq!(r.reference, Reference::Digest(d));
        assert!(ImageRef::parse("127.0.0.1:5000/app", None).is_err());
        assert_eq!(
            ImageRef::parse("127.0.0.1:5000/app", Some("latest"))
                .unwrap()
                .to_string(),
            "127.0.0.1:5000/app:latest"
        );
        assert!(ImageRef::parse("app@sha256:xyz", None).is_err());
    }

    #[test]
    fn full_image_references_take_a_tag_and_a_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let (r, tag) = parse_image(&format!("localhost/web:1.0@{d}")).unwrap();
        assert_eq!(
            (r.to_string(), tag.as_deref()),
            (format!("localhost/web@{d}"), Some("1.0"))
        );
        let (r, tag) = parse_image("127.0.0.1:5000/acme/web").unwrap();
        assert_eq!(
            (r.to_string(), tag),
            ("127.0.0.1:5000/acme/web:latest".to_string(), None)
        );
        for bad in [
            "reg.test:port/web",
            "reg.test:123456/web",
            "web:1 2",
            "a:b:c",
            "",
            "-flag",
            &"a".repeat(600),
        ] {
            assert!(parse_image(bad).is_err(), "{bad}");
        }
        assert!(parse_image("[::1]:5000/web:1").is_ok());
    }

    #[test]
    fn plain_http_only_for_loopback_or_named() {
        assert!(is_plain_http("127.0.0.1:5000", &[]));
        assert!(is_plain_http("localhost:5000", &[]));
        assert!(is_plain_http("[::1]:5000", &[]));
        assert!(!is_plain_http("127.evil.example", &[]));
        assert!(!is_plain_http("registry.example.test", &[]));
        assert!(is_plain_http(
            "registry.example.test:5000",
            &["registry.example.test:5000".into()]
        ));
    }
}
