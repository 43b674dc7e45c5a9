//! Blobs: existence, cross-repository mounts, uploads, and copies between repositories (streamed, with
//! redirects to storage followed without the registry's credentials).

use super::{parallel_map, scope_pull, scope_push, strip_query, unexpected, url_encode, Client};
use crate::http::{Request, Response};
use crate::net::same_origin;
use crate::registry::manifest::{sha256_digest, Manifest};
use crate::registry::reference::Repo;
use crate::{Error, ExitCode, Result};

impl Client {
    pub fn blob_exists(&self, repo: &Repo, digest: &str) -> Result<bool> {
        let url = self.blob_url(repo, digest)?;
        let resp = self.send(&repo.registry, &[scope_pull(repo)], Request::new("HEAD", &url))?;
        match resp.status {
            200 | 307 | 302 => Ok(true),
            404 => Ok(false),
            _ => Err(unexpected("HEAD blob", &format!("{repo}@{digest}"), &resp)),
        }
    }

    /// Cross-repository mount. `Ok(None)` when mounted; `Ok(Some(upload_url))` when the registry opened an
    /// upload instead (the blob must be sent).
    pub fn mount_blob(&self, to: &Repo, digest: &str, from: &Repo) -> Result<Option<String>> {
        super::checked_digest(digest)?;
        let url = self.url(
            to,
            &format!("blobs/uploads/?mount={digest}&from={}", url_encode(&from.path)),
        );
        let scopes = [scope_push(to), scope_pull(from)];
        let resp = self.send(&to.registry, &scopes, Request::new("POST", &url))?;
        match resp.status {
            201 => Ok(None),
            202 => Ok(Some(self.location(&to.registry, &resp)?)),
            // A registry that does not mount (ECR without blob mounting, some proxies) may refuse the
            // parameter outright: upload instead.
            400 | 404 | 405 => {
                crate::term::info(&format!(
                    "{}: cross-repository mount refused (HTTP {}); uploading instead",
                    to.registry, resp.status
                ));
                Ok(Some(self.start_upload(to)?))
            }
            _ => Err(unexpected("mount blob", &format!("{to}@{digest}"), &resp)),
        }
    }

    fn location(&self, registry: &str, resp: &Response) -> Result<String> {
        let loc = resp
            .header("location")
            .ok_or_else(|| Error::remote(format!("{registry} opened an upload without a Location")))?;
        Ok(if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else {
            format!("{}{loc}", self.base_url(registry))
        })
    }

    /// Download a blob (following the registry's redirect to storage, without sending it our credentials)
    /// and check its digest.
    pub fn get_blob(&self, repo: &Repo, digest: &str) -> Result<Vec<u8>> {
        let url = self.blob_url(repo, digest)?;
        let mut resp = self.send(&repo.registry, &[scope_pull(repo)], Request::new("GET", &url))?;
        let mut hops = 0;
        while matches!(resp.status, 301 | 302 | 303 | 307 | 308) && hops < 5 {
            let loc = self.location(&repo.registry, &resp)?;
            resp = self.send(&repo.registry, &[scope_pull(repo)], Request::new("GET", &loc))?;
            hops += 1;
        }
        if resp.status != 200 {
            return Err(unexpected("GET blob", &format!("{repo}@{digest}"), &resp));
        }
        if sha256_digest(&resp.body) != digest && digest.starts_with("sha256:") {
            return Err(Error::remote(format!(
                "{repo}@{digest}: downloaded blob does not match its digest"
            )));
        }
        Ok(resp.body)
    }

    /// Monolithic upload: POST (or the given upload URL) then PUT `?digest=`.
    pub fn upload_blob(&self, repo: &Repo, digest: &str, bytes: Vec<u8>, upload_url: Option<String>) -> Result<()> {
        super::checked_digest(digest)?;
        let scopes = [scope_push(repo)];
        let upload_url = if let Some(u) = upload_url {
            u
        } else {
            let url = self.url(repo, "blobs/uploads/");
            let resp = self.send(&repo.registry, &scopes, Request::new("POST", &url))?;
            if resp.status != 202 {
                return Err(unexpected("start blob upload", &repo.to_string(), &resp));
            }
            self.location(&repo.registry, &resp)?
        };
        let sep = if upload_url.contains('?') { '&' } else { '?' };
        let url = format!("{upload_url}{sep}digest={}", url_encode(digest));
        let req = Request::new("PUT", &url)
            .header("Content-Type", "application/octet-stream")
            .body(bytes);
        let resp = self.send(&repo.registry, &scopes, req)?;
        if resp.status != 201 {
            return Err(unexpected("upload blob", &format!("{repo}@{digest}"), &resp));
        }
        Ok(())
    }

    /// Upload `size` bytes of a file from `offset` (a layer of a saved image), streamed, unless the
    /// repository has the blob already; retried whole on transient failures.
    pub fn upload_file_region(
        &self,
        repo: &Repo,
        digest: &str,
        path: &std::path::Path,
        region: (u64, u64),
    ) -> Result<bool> {
        if self.blob_exists(repo, digest)? {
            return Ok(false);
        }
        self.retry_whole(
            &format!("uploading {digest} to {repo}"),
            &format!("upload {digest}"),
            || {
                let url = self.start_upload(repo).map_err(|e| (e, false))?;
                self.put_file_once(repo, digest, path, region, &url)
            },
        )?;
        Ok(true)
    }

    /// One streamed monolithic PUT of a file region; the error says whether another try may help.
    fn put_file_once(
        &self,
        repo: &Repo,
        digest: &str,
        path: &std::path::Path,
        (offset, size): (u64, u64),
        upload_url: &str,
    ) -> Result<(), (Error, bool)> {
        use std::io::{Read, Seek};
        let io = |e: std::io::Error| (Error::failure(format!("cannot read {}: {e}", path.display())), false);
        let mut file = std::fs::File::open(path).map_err(io)?;
        file.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
        let mut reader = file.take(size);
        self.put_blob_stream(repo, digest, upload_url, Some(&size.to_string()), &mut reader)
    }

    /// One streamed monolithic PUT of `body` (`length` bytes, when known) that finishes the upload of
    /// `digest` to `repo`; the error says whether another try may help (network, 401, 408, 429, 5xx).
    fn put_blob_stream(
        &self,
        repo: &Repo,
        digest: &str,
        upload_url: &str,
        length: Option<&str>,
        body: &mut dyn std::io::Read,
    ) -> Result<(), (Error, bool)> {
        let sep = if upload_url.contains('?') { '&' } else { '?' };
        let put_url = format!("{upload_url}{sep}digest={}", url_encode(digest));
        if crate::exec::verbose() {
            crate::term::info(&format!("> PUT {}", strip_query(&put_url)));
        }
        let mut put = self
            .agent
            .put(&put_url)
            .header("Content-Type", "application/octet-stream");
        if let Some(l) = length {
            put = put.header("Content-Length", l);
        }
        if let (true, Some(h)) = (
            same_origin(&put_url, &self.base_url(&repo.registry)),
            self.cached_header(&repo.registry, &[scope_push(repo)]),
        ) {
            put = put.header("Authorization", &h);
        }
        let resp = put
            .send(ureq::SendBody::from_reader(body))
            .map_err(|e| (Error::remote(format!("PUT {}: {e}", strip_query(&put_url))), true))?;
        let status = resp.status().as_u16();
        match status {
            201 => Ok(()),
            401 | 403 => Err((
                Error::new(ExitCode::Auth, format!("upload blob {repo}@{digest}: HTTP {status}")),
                status == 401,
            )),
            _ => Err((
                Error::new(ExitCode::Remote, format!("upload blob {repo}@{digest}: HTTP {status}")),
                matches!(status, 408 | 429) || status >= 500,
            )),
        }
    }

    /// Make every blob (and, for an index, every child manifest) of `m` present in `to`: HEAD first,
    /// then cross-repository mount on the same registry, else download and upload.
    pub fn copy_content(&self, m: &Manifest, from: &Repo, to: &Repo) -> Result<()> {
        if from == to {
            return Ok(());
        }
        if m.is_index() {
            for child in m.children() {
                if self.head_manifest(&to.with_digest(&child.digest))?.is_some() {
                    continue;
                }
                let cm = self.get_manifest(&from.with_digest(&child.digest))?.ok_or_else(|| {
                    Error::not_found(format!(
                        "{from}@{}: child manifest of the index is missing",
                        child.digest
                    ))
                })?;
                self.copy_content(&cm, from, to)?;
                self.put_manifest(to, &child.digest, &cm)?;
            }
            return Ok(());
        }
        // Up to 4 blobs at a time (each may be held in memory when copied across registries).
        for chunk in m.blobs().chunks(4) {
            parallel_map(chunk, |blob| self.ensure_blob(&blob.digest, from, to))
                .into_iter()
                .collect::<Result<Vec<()>>>()?;
        }
        Ok(())
    }

    /// One blob present in `to`: HEAD, else mount (same registry), else download and upload.
    fn ensure_blob(&self, digest: &str, from: &Repo, to: &Repo) -> Result<()> {
        if self.blob_exists(to, digest)? {
            return Ok(());
        }
        let upload = if from.registry == to.registry {
            match self.mount_blob(to, digest, from)? {
                None => return Ok(()),
                Some(u) => Some(u),
            }
        } else {
            None
        };
        self.stream_blob(from, to, digest, upload)
    }

    /// The cached `Authorization` value for these scopes, without fetching anything.
    fn cached_header(&self, registry: &str, scopes: &[String]) -> Option<String> {
        self.hosts()
            .get(registry)
            .and_then(|h| h.headers.get(&scopes.join(" ")).cloned())
    }

    /// Copy a blob between repositories by streaming: GET (redirects to storage followed without our
    /// credentials) piped into a monolithic PUT, so a large layer is never held in memory. Auth is settled
    /// first with small requests; the whole copy is retried on transient failures.
    pub fn stream_blob(&self, from: &Repo, to: &Repo, digest: &str, mut upload: Option<String>) -> Result<()> {
        self.blob_exists(from, digest)?;
        self.retry_whole(&format!("copying {digest} to {to}"), &format!("copy {digest}"), || {
            let url = match upload.take() {
                Some(u) => u,
                None => self.start_upload(to).map_err(|e| (e, false))?,
            };
            self.stream_once(from, to, digest, &url)
        })
    }

    /// Run `once` until it succeeds, again after the backoff's wait (a warning naming `doing`, a sleep a
    /// signal cuts short) while it fails with an error it marks as worth another try and attempts remain.
    fn retry_whole(
        &self,
        doing: &str,
        again: &str,
        mut once: impl FnMut() -> std::result::Result<(), (Error, bool)>,
    ) -> Result<()> {
        let attempts = self.opts.backoff.attempts;
        let mut attempt = 1;
        loop {
            match once() {
                Ok(()) => return Ok(()),
                Err((e, true)) if attempt < attempts => {
                    let wait = self.opts.backoff.delay(attempt, None);
                    crate::term::warn(&format!(
                        "{doing}: {}; retrying in {:.1}s (attempt {}/{attempts})",
                        e.message,
                        wait.as_secs_f64(),
                        attempt + 1
                    ));
                    crate::cancel::sleep(wait, &format!("while waiting to {again} again"))?;
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    fn start_upload(&self, repo: &Repo) -> Result<String> {
        let url = self.url(repo, "blobs/uploads/");
        let resp = self.send(&repo.registry, &[scope_push(repo)], Request::new("POST", &url))?;
        if resp.status != 202 {
            return Err(unexpected("start blob upload", &repo.to_string(), &resp));
        }
        self.location(&repo.registry, &resp)
    }

    /// One streamed copy; the error says whether another try may help.
    fn stream_once(&self, from: &Repo, to: &Repo, digest: &str, upload_url: &str) -> Result<(), (Error, bool)> {
        let transient = |status: u16| matches!(status, 408 | 429) || status >= 500;
        let from_base = self.base_url(&from.registry);
        let mut url = self.blob_url(from, digest).map_err(|e| (e, false))?;
        let pull_auth = self.cached_header(&from.registry, &[scope_pull(from)]);
        let mut hops = 0;
        let resp = loop {
            if crate::exec::verbose() {
                crate::term::info(&format!("> GET {}", strip_query(&url)));
            }
            let mut req = self.agent.get(&url);
            if let (true, Some(h)) = (same_origin(&url, &from_base), &pull_auth) {
                req = req.header("Authorization", h);
            }
            let resp = req
                .call()
                .map_err(|e| (Error::remote(format!("GET {}: {e}", strip_query(&url))), true))?;
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) && hops < 5 {
                let loc = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        (
                            Error::remote(format!("{from}@{digest}: redirect without Location")),
                            false,
                        )
                    })?;
                url = if loc.starts_with("http://") || loc.starts_with("https://") {
                    loc.to_string()
                } else {
                    format!("{from_base}{loc}")
                };
                hops += 1;
                continue;
            }
            if status != 200 {
                let e = Error::new(
                    if status == 404 {
                        ExitCode::NotFound
                    } else {
                        ExitCode::Remote
                    },
                    format!("GET blob {from}@{digest}: HTTP {status}"),
                );
                return Err((e, transient(status)));
            }
            break resp;
        };
        let length = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let mut reader = resp.into_body().into_reader();
        self.put_blob_stream(to, digest, upload_url, length.as_deref(), &mut reader)
    }
}
