//! The build context beyond git's committed tree, for the build key: what docker sends that the tree
//! hash does not cover.
//!
//! - Uncommitted changes (`git status`) count only where docker sends them: a change to a file that
//!   `.dockerignore` excludes (a CI template's working file, say) does not make the key unavailable.
//! - Files git ignores but `.dockerignore` does not (a generated `config.json`, a `dist/` built earlier in the
//!   job) are in the build context, so their content goes into the key (path, mode and SHA-256 each): when
//!   one changes, the key changes and the image is rebuilt.

use crate::dockerignore::DockerIgnore;
use sha2::{Digest as _, Sha256};
use shipkit_core::exec::Command;
use shipkit_core::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Where the context is inside the checkout.
pub struct ContextInGit<'a> {
    /// The checkout's top directory.
    pub top: &'a Path,
    /// The context relative to `top` (`""` for the top itself).
    pub ctx_rel: &'a str,
    /// The Dockerfile relative to `top`.
    pub dockerfile_rel: &'a str,
    pub ignore: &'a DockerIgnore,
}

impl ContextInGit<'_> {
    /// A path relative to `top` as the context sees it; `None` outside the context.
    fn in_context<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.ctx_rel.is_empty() {
            return Some(path);
        }
        path.strip_prefix(self.ctx_rel)?.strip_prefix('/')
    }

    /// Is this changed or ignored path (relative to `top`) sent to the daemon?
    fn sent(&self, path: &str) -> bool {
        self.in_context(path).is_some_and(|p| !self.ignore.excludes(p))
    }

    fn pathspec(&self) -> &str {
        if self.ctx_rel.is_empty() {
            "."
        } else {
            self.ctx_rel
        }
    }

    /// The uncommitted paths that matter: in the context and not excluded, or the Dockerfile itself.
    pub fn uncommitted(&self) -> Result<Vec<String>> {
        let out = Command::new("git")
            .args(["status", "--porcelain", "-z", "--untracked-files=all", "--"])
            .arg(self.pathspec())
            .arg(self.dockerfile_rel)
            .dir(self.top)
            .read()?;
        let mut paths = vec![];
        let mut fields = out.split('\0').filter(|f| !f.is_empty());
        while let Some(entry) = fields.next() {
            let (status, path) = entry.split_at(entry.len().min(3));
            if status.starts_with('R') || status.starts_with('C') {
                // A rename's source follows: a path gone from the context matters too.
                if let Some(from) = fields.next() {
                    paths.push(from.to_string());
                }
            }
            paths.push(path.to_string());
        }
        paths.retain(|p| p == self.dockerfile_rel || self.sent(p));
        Ok(paths)
    }

    /// `ignored=<path> <mode> <sha256>` for every git-ignored file docker sends, sorted by path.
    pub fn ignored_lines(&self) -> Result<Vec<String>> {
        let out = Command::new("git")
            .args(["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--"])
            .arg(self.pathspec())
            .dir(self.top)
            .read()?;
        let mut files: Vec<&str> = out.split('\0').filter(|p| !p.is_empty() && self.sent(p)).collect();
        files.sort_unstable();
        files
            .into_iter()
            .map(|p| {
                let (mode, hash) = file_hash(&self.top.join(p))?;
                Ok(format!("ignored={} {mode:o} {hash}", self.in_context(p).unwrap_or(p)))
            })
            .collect()
    }
}

/// The mode bits docker keeps and the SHA-256 of the content (of the link target for a symlink).
fn file_hash(path: &Path) -> Result<(u32, String)> {
    use std::os::unix::fs::PermissionsExt;
    let cannot = |e: std::io::Error| Error::failure(format!("cannot read {} for the build key: {e}", path.display()));
    let meta = std::fs::symlink_metadata(path).map_err(cannot)?;
    let mut hasher = Sha256::new();
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(cannot)?;
        hasher.update(b"symlink:");
        hasher.update(target.as_os_str().as_encoded_bytes());
    } else {
        let mut f = std::fs::File::open(path).map_err(cannot)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(cannot)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok((
        meta.permissions().mode() & 0o7777,
        crate::manifest::hex(&hasher.finalize()),
    ))
}
