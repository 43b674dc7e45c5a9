//! The rules, without git: which tags count, the dev version form, Docker tags (floating tags that never
//! move backwards), conventional-commit bumps and the next version.

use semver::{BuildMetadata, Prerelease, Version};
use std::cmp::Ordering;

pub use crate::tags::parse_tag;

/// Semver precedence (build metadata ignored), then the full order so the result is stable.
pub fn precedence(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

/// A tag prefix must make valid tag names (`billing/`, `svc-`, ``).
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    let sample = format!("refs/tags/{prefix}v1.0.0");
    if prefix.starts_with('-') || prefix.starts_with('/') || !git2::Reference::is_valid_name(&sample) {
        return Err(format!(
            "--tag-prefix {prefix:?} cannot start a git tag name (no spaces, `..`, `~^:?*[\\`, leading `/` or `-`)"
        ));
    }
    Ok(())
}

/// The dev version after `base` (a tag `distance` commits back): `1.2.4-dev.5+g1a2b3c4` after `1.2.3`,
/// `2.0.0-rc.1.dev.5+g1a2b3c4` after `2.0.0-rc.1`, `2.0.0-alpha.0.dev.5+g...` after `2.0.0-alpha`,
/// `0.0.0-dev.N+g...` with no tag. It sorts above `base`
/// and below the next release. `dirty` adds `.dirty` to the build metadata.
pub fn dev_version(base: Option<&Version>, distance: usize, short_sha: &str, dirty: bool) -> Version {
    let mut v = match base {
        None => {
            let mut v = Version::new(0, 0, 0);
            v.pre = Prerelease::new(&format!("dev.{distance}")).unwrap_or(Prerelease::EMPTY);
            v
        }
        Some(b) if b.pre.is_empty() => {
            // At 2^64 - 1 the patch cannot grow: the dev version stays on it (never a panic).
            let mut v = Version::new(b.major, b.minor, b.patch.saturating_add(1));
            v.pre = Prerelease::new(&format!("dev.{distance}")).unwrap_or(Prerelease::EMPTY);
            v
        }
        Some(b) => {
            let mut v = Version::new(b.major, b.minor, b.patch);
            // After a prerelease whose last part is a word (`alpha`, `beta2`) a `.0` goes first, so the dev
            // version sorts below the next prerelease (`alpha.1`, `beta3`): `alpha.0.dev.N`.
            let last_is_word = b
                .pre
                .as_str()
                .rsplit('.')
                .next()
                .is_some_and(|p| !p.bytes().all(|c| c.is_ascii_digit()));
            let zero = if last_is_word { ".0" } else { "" };
            v.pre = Prerelease::new(&format!("{}{zero}.dev.{distance}", b.pre)).unwrap_or(Prerelease::EMPTY);
            v
        }
    };
    let build = if dirty {
        format!("g{short_sha}.dirty")
    } else {
        format!("g{short_sha}")
    };
    v.build = BuildMetadata::new(&build).unwrap_or(BuildMetadata::EMPTY);
    v
}

/// The Docker tag kinds (`--docker-tags`). `major0` (the major tag `0` for 0.x releases) is opt-in: it is
/// not in the default set (docker/metadata-action advises against a `0` tag).
pub const KINDS: [&str; 8] = ["semver", "minor", "major", "latest", "sha", "branch", "pr", "major0"];

/// The kinds emitted when none are chosen.
pub fn default_kinds() -> Vec<String> {
    KINDS
        .iter()
        .filter(|k| **k != "major0")
        .map(std::string::ToString::to_string)
        .collect()
}

/// Check a list of kinds; `None` means all.
pub fn parse_kinds(list: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for k in list
        .iter()
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty())
    {
        if !KINDS.contains(&k.as_str()) {
            return Err(format!("unknown docker tag kind {k:?} (known: {})", KINDS.join(",")));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// One floating tag (`1.2`, `1`, `latest`) for a release: does it move to this version, or which newer
/// tag holds it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Floating {
    pub kind: &'static str,
    pub docker_tag: String,
    pub moves: bool,
    /// The tag name of the higher release that holds it back.
    pub held_back_by: Option<String>,
}

/// Floating tags for release `v` against every release tag of the repository (`all`: name and version;
/// prereleases are skipped: they never hold a floating tag). For a 0.x release the major tag `0` has the
/// kind `major0` (opt-in).
pub fn floating(v: &Version, all: &[(String, Version)]) -> Vec<Floating> {
    // (kind, docker tag, how many leading components must match: minor 2, major 1, latest 0)
    let groups: [(&'static str, String, u8); 3] = [
        ("minor", format!("{}.{}", v.major, v.minor), 2),
        (if v.major == 0 { "major0" } else { "major" }, format!("{}", v.major), 1),
        ("latest", "latest".to_string(), 0),
    ];
    let in_group = |o: &Version, depth: u8| (depth < 1 || o.major == v.major) && (depth < 2 || o.minor == v.minor);
    groups
        .into_iter()
        .map(|(kind, docker_tag, depth)| {
            let higher = all
                .iter()
                .filter(|(_, o)| o.pre.is_empty() && in_group(o, depth) && precedence(o, v) == Ordering::Greater)
                .max_by(|a, b| precedence(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)));
            Floating {
                kind,
                docker_tag,
                moves: higher.is_none(),
                held_back_by: higher.map(|(n, _)| n.clone()),
            }
        })
        .collect()
}

/// A branch name as a Docker tag (docker/metadata-action's rule): runs of characters outside
/// `[A-Za-z0-9._-]` become `-`, leading `.`/`-` are trimmed, at most 128 characters.
/// `my/feature#1245` → `my-feature-1245`. `None` when nothing is left.
pub fn sanitize_branch(branch: &str) -> Option<String> {
    let mut out = String::with_capacity(branch.len());
    let mut in_run = false;
    for c in branch.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let trimmed = out.trim_start_matches(['.', '-']);
    let t: String = trimmed.chars().take(128).collect();
    (!t.is_empty()).then_some(t)
}

/// The longest Docker tag (the distribution spec's `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
pub const MAX_DOCKER_TAG: usize = 128;

/// A version as a Docker tag: build metadata dropped (`+` is not allowed in Docker tags), except a PEP 440
/// post release's `post.N`, kept as `-post.N` so it does not collide with its base's tag. Never longer than
/// 128 characters: see [`fit_docker_tag`].
pub fn docker_version(v: &Version) -> String {
    docker_version_checked(v).0
}

/// [`docker_version`], and whether the tag was shortened to 128 characters.
pub fn docker_version_checked(v: &Version) -> (String, bool) {
    let mut plain = v.clone();
    plain.build = BuildMetadata::EMPTY;
    let mut t = plain.to_string();
    if let Some(post) = v.build.as_str().split('.').collect::<Vec<_>>().get(..2) {
        if post[0] == "post" {
            t.push_str(&format!("-post.{}", post[1]));
        }
    }
    fit_docker_tag(&t)
}

/// A Docker tag of at most 128 characters: a longer one is cut to 119 characters and ends with `-` and the
/// first 8 hex digits of the SHA-1 of the whole text, so the same version always gives the same tag and two
/// long versions do not collide. Returns the tag and whether it was shortened.
pub fn fit_docker_tag(tag: &str) -> (String, bool) {
    if tag.len() <= MAX_DOCKER_TAG {
        return (tag.to_string(), false);
    }
    let hash = git2::Oid::hash_object(git2::ObjectType::Blob, tag.as_bytes())
        .map_or_else(|_| "00000000".into(), |o| o.to_string()[..8].to_string());
    let mut cut = MAX_DOCKER_TAG - 9;
    while !tag.is_char_boundary(cut) {
        cut -= 1;
    }
    (format!("{}-{hash}", &tag[..cut]), true)
}

/// Does a Docker tag look like a release, floating, sha or pr tag (`latest`, `2.0.0`, `3.0`, `3`, `sha-1a2b3c4`,
/// `pr-12`)? A branch tag that does is prefixed with `branch-`.
pub fn collides_with_release_tags(tag: &str) -> bool {
    let lower = tag.to_ascii_lowercase();
    let hex_sha = lower
        .strip_prefix("sha-")
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let pr = lower
        .strip_prefix("pr-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    lower == "latest" || lower.starts_with(|c: char| c.is_ascii_digit()) || hex_sha || pr
}

/// A branch's Docker tag: [`sanitize_branch`], then `branch-` in front of a name that would collide with a
/// release, floating, sha or pr tag. Returns the tag and whether it was prefixed.
pub fn branch_docker_tag(branch: &str) -> Option<(String, bool)> {
    let t = sanitize_branch(branch)?;
    if collides_with_release_tags(&t) {
        let prefixed: String = format!("branch-{t}").chars().take(MAX_DOCKER_TAG).collect();
        Some((prefixed, true))
    } else {
        Some((t, false))
    }
}

/// A version bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

impl Bump {
    pub fn parse(s: &str) -> Option<Bump> {
        match s.trim().to_ascii_lowercase().as_str() {
            "patch" => Some(Bump::Patch),
            "minor" => Some(Bump::Minor),
            "major" => Some(Bump::Major),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// The bump a conventional commit asks for: `fix` → patch, `feat` → minor, `type!:` or a
/// `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer → major. Anything else: `None`.
pub fn classify_commit(message: &str) -> Option<Bump> {
    let mut lines = message.lines();
    let subject = lines.next().unwrap_or("").trim();
    let breaking_footer = lines.any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    let head = subject.split_once(':').map(|(h, _)| h);
    let (ty, bang) = match head {
        Some(h) => {
            let bang = h.ends_with('!');
            let h = h.trim_end_matches('!');
            let ty = match h.split_once('(') {
                Some((t, scope)) if scope.ends_with(')') => t,
                Some(_) => "",
                None => h,
            };
            let valid = !ty.is_empty() && ty.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            (if valid { ty } else { "" }, bang && valid)
        }
        None => ("", false),
    };
    if bang || (breaking_footer && !ty.is_empty()) {
        Some(Bump::Major)
    } else if ty.eq_ignore_ascii_case("feat") {
        Some(Bump::Minor)
    } else if ty.eq_ignore_ascii_case("fix") {
        Some(Bump::Patch)
    } else {
        None
    }
}

/// The next version after `base` (none: `0.0.0`). A prerelease base is released first, as npm does:
/// `patch` of `2.0.0-rc.1` is `2.0.0`; `minor` of `1.3.0-rc.1` is `1.3.0`; `major` of `2.0.0-rc.1` is `2.0.0`.
/// `None` when a number would pass 2^64 - 1.
pub fn bump_version(base: Option<&Version>, bump: Bump) -> Option<Version> {
    let b = base.cloned().unwrap_or_else(|| Version::new(0, 0, 0));
    let pre = !b.pre.is_empty();
    Some(match bump {
        Bump::Patch if pre => Version::new(b.major, b.minor, b.patch),
        Bump::Patch => Version::new(b.major, b.minor, b.patch.checked_add(1)?),
        Bump::Minor if pre && b.patch == 0 => Version::new(b.major, b.minor, 0),
        Bump::Minor => Version::new(b.major, b.minor.checked_add(1)?, 0),
        Bump::Major if pre && b.patch == 0 && b.minor == 0 => Version::new(b.major, 0, 0),
        Bump::Major => Version::new(b.major.checked_add(1)?, 0, 0),
    })
}

/// Below 1.0.0 a breaking change bumps the minor (0.x is the unstable range; semver §4).
pub fn conventional_bump(base: Option<&Version>, wanted: Bump) -> Bump {
    let below_one = base.is_none_or(|b| b.major == 0);
    if wanted == Bump::Major && below_one {
        Bump::Minor
    } else {
        wanted
    }
}

pub use shipkit_core::time::rfc3339_utc as rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn dev_versions_sort_between_base_and_next() {
        let d = dev_version(Some(&v("1.2.3")), 5, "1a2b3c4", false);
        assert_eq!(d.to_string(), "1.2.4-dev.5+g1a2b3c4");
        assert!(precedence(&d, &v("1.2.3")).is_gt() && precedence(&d, &v("1.2.4")).is_lt());
        let rc = dev_version(Some(&v("2.0.0-rc.1")), 5, "1a2b3c4", true);
        assert_eq!(rc.to_string(), "2.0.0-rc.1.dev.5+g1a2b3c4.dirty");
        assert!(precedence(&rc, &v("2.0.0-rc.1")).is_gt() && precedence(&rc, &v("2.0.0")).is_lt());
        assert!(precedence(&rc, &v("2.0.0-rc.2")).is_lt());
        assert_eq!(
            dev_version(None, 3, "abcdef0", false).to_string(),
            "0.0.0-dev.3+gabcdef0"
        );
    }

    #[test]
    fn floating_tags_never_move_backwards() {
        let all: Vec<(String, Version)> = ["v1.2.0", "v1.2.1", "v1.3.0", "v2.0.0", "v3.0.0-rc.1"]
            .iter()
            .map(|n| (n.to_string(), parse_tag(n, "").unwrap()))
            .collect();
        let f = floating(&v("1.2.2"), &all);
        assert_eq!(
            f.iter().map(|f| (f.docker_tag.as_str(), f.moves)).collect::<Vec<_>>(),
            [("1.2", true), ("1", false), ("latest", false)]
        );
        assert_eq!(f[1].held_back_by.as_deref(), Some("v1.3.0"));
        assert_eq!(f[2].held_back_by.as_deref(), Some("v2.0.0"));
        assert!(
            floating(&v("2.0.0"), &all).iter().all(|f| f.moves),
            "prereleases hold nothing back"
        );
    }

    #[test]
    fn branch_names_become_docker_tags() {
        assert_eq!(sanitize_branch("my/feature#1245").as_deref(), Some("my-feature-1245"));
        assert_eq!(sanitize_branch("feat//ü x").as_deref(), Some("feat-x"));
        assert_eq!(sanitize_branch("-.x").as_deref(), Some("x"));
        assert_eq!(sanitize_branch("///"), None);
        assert_eq!(sanitize_branch(&"a".repeat(300)).unwrap().len(), 128);
    }

    #[test]
    fn conventional_commits() {
        assert_eq!(classify_commit("fix: x"), Some(Bump::Patch));
        assert_eq!(classify_commit("feat(api): x"), Some(Bump::Minor));
        assert_eq!(classify_commit("feat(api)!: x"), Some(Bump::Major));
        assert_eq!(classify_commit("chore: x\n\nBREAKING CHANGE: gone"), Some(Bump::Major));
        assert_eq!(classify_commit("docs: x"), None);
        assert_eq!(classify_commit("Merge pull request #3 from a/b"), None);
        assert_eq!(classify_commit("feature add: x"), None);
        assert_eq!(conventional_bump(Some(&v("0.3.1")), Bump::Major), Bump::Minor);
        assert_eq!(conventional_bump(Some(&v("1.3.1")), Bump::Major), Bump::Major);
    }

    #[test]
    fn bumps() {
        assert_eq!(bump_version(Some(&v("1.2.3")), Bump::Patch).unwrap(), v("1.2.4"));
        assert_eq!(bump_version(Some(&v("1.2.3")), Bump::Minor).unwrap(), v("1.3.0"));
        assert_eq!(bump_version(Some(&v("1.2.3")), Bump::Major).unwrap(), v("2.0.0"));
        assert_eq!(bump_version(Some(&v("2.0.0-rc.1")), Bump::Patch).unwrap(), v("2.0.0"));
        assert_eq!(bump_version(Some(&v("2.0.0-rc.1")), Bump::Major).unwrap(), v("2.0.0"));
        assert_eq!(bump_version(None, Bump::Minor).unwrap(), v("0.1.0"));
        assert_eq!(bump_version(Some(&v("1.2.18446744073709551615")), Bump::Patch), None);
        assert_eq!(bump_version(Some(&v("18446744073709551615.0.0")), Bump::Major), None);
    }

    #[test]
    fn kinds_are_checked() {
        assert_eq!(
            parse_kinds(&["sha".into(), "Branch".into()]).unwrap(),
            ["sha", "branch"]
        );
        assert!(parse_kinds(&["shas".into()]).unwrap_err().contains("shas"));
    }
}
