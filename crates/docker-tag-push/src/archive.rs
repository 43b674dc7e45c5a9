//! Push by digest through the local daemon: read the archive `docker save` writes (the legacy layout of
//! `manifest.json`, `<id>.json` config and `<dir>/layer.tar` layers, or the OCI layout newer daemons add
//! beside it) and turn it into an OCI image manifest whose blobs are the archive's files, so that the
//! image can be uploaded registry-side without a tag (`docker push` always writes one).
//!
//! The layers are uploaded as they are saved: uncompressed tars (`application/vnd.oci.image.layer.v1.tar`),
//! whose digests are the config's `rootfs.diff_ids` (checked). A tar entry is read by offset from the
//! saved file, never held whole in memory except the config and `manifest.json` (bounded).

use crate::manifest::{sha256_digest, Manifest, OCI_MANIFEST};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use shipkit_core::{Error, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// The largest `manifest.json` or image config read into memory.
const MAX_SMALL_FILE: u64 = 4 * 1024 * 1024;
/// Entries indexed at most (a bound on a corrupt or hostile archive).
const MAX_ENTRIES: usize = 100_000;

/// Where one file of the archive is: its data's offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub offset: u64,
    pub size: u64,
}

/// One blob of the image: a region of the saved archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub entry: Entry,
}

/// An image read from a `docker save` archive, ready to upload.
#[derive(Debug, Clone)]
pub struct SavedImage {
    pub archive: PathBuf,
    /// The config bytes are uploaded from memory.
    pub config: Vec<u8>,
    pub layers: Vec<Blob>,
    /// The OCI image manifest made for it.
    pub manifest: Manifest,
    /// `os/arch[/variant]` from the config.
    pub platform: String,
}

/// Index the entries of a tar file: name → data region. Follows ustar prefixes, GNU long names and PAX
/// `path` records; every size is checked against the file's length.
pub fn index_tar(file: &mut File) -> Result<HashMap<String, Entry>> {
    let len = file.metadata()?.len();
    let mut entries = HashMap::new();
    let mut pos = 0u64;
    let mut long_name: Option<String> = None;
    let mut header = [0u8; 512];
    while pos + 512 <= len {
        if entries.len() >= MAX_ENTRIES {
            return Err(bad(&format!("more than {MAX_ENTRIES} entries")));
        }
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut header)?;
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let size = octal(&header[124..136]).ok_or_else(|| bad("an entry with an unreadable size"))?;
        let data = pos + 512;
        if data.checked_add(size).is_none_or(|end| end > len) {
            return Err(bad("an entry runs past the end of the file"));
        }
        let kind = header[156];
        match kind {
            b'L' | b'x' => {
                let text = read_region(file, Entry { offset: data, size }, MAX_SMALL_FILE)?;
                long_name = if kind == b'L' {
                    Some(String::from_utf8_lossy(&text).trim_end_matches('\0').to_string())
                } else {
                    pax_path(&text)
                };
            }
            _ => {
                let name = long_name.take().unwrap_or_else(|| ustar_name(&header));
                if kind == b'0' || kind == 0 {
                    entries.insert(name.trim_start_matches("./").to_string(), Entry { offset: data, size });
                }
            }
        }
        pos = data + size.div_ceil(512) * 512;
    }
    Ok(entries)
}

fn bad(why: &str) -> Error {
    Error::failure(format!("the docker save archive is unreadable: {why}"))
}

/// A numeric tar field: octal digits, NUL/space padded.
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

fn ustar_name(h: &[u8; 512]) -> String {
    let field = |b: &[u8]| {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).to_string()
    };
    let name = field(&h[0..100]);
    let prefix = if &h[257..262] == b"ustar" {
        field(&h[345..500])
    } else {
        String::new()
    };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// The `path` record of a PAX extended header (`<len> path=<value>\n` records).
fn pax_path(text: &[u8]) -> Option<String> {
    String::from_utf8_lossy(text).lines().find_map(|l| {
        l.split_once(' ')
            .and_then(|(_, kv)| kv.strip_prefix("path="))
            .map(String::from)
    })
}

/// A region of the file, at most `max` bytes.
pub fn read_region(file: &mut File, e: Entry, max: u64) -> Result<Vec<u8>> {
    if e.size > max {
        return Err(bad(&format!(
            "an entry of {} bytes where at most {max} are expected",
            e.size
        )));
    }
    file.seek(SeekFrom::Start(e.offset))?;
    let mut buf = vec![0u8; usize::try_from(e.size).unwrap_or(0)];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// `sha256:<hex>` of a region, streamed.
fn region_digest(file: &mut File, e: Entry) -> Result<String> {
    file.seek(SeekFrom::Start(e.offset))?;
    let mut hasher = Sha256::new();
    let mut reader = (&mut *file).take(e.size);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", crate::manifest::hex(&hasher.finalize())))
}

/// Read the saved image at `archive` (one image) and make its OCI manifest with these annotations.
pub fn read_saved(archive: &Path, annotations: &[(String, String)]) -> Result<SavedImage> {
    let mut file = File::open(archive)?;
    let entries = index_tar(&mut file)?;
    let get = |name: &str| {
        entries
            .get(name)
            .copied()
            .ok_or_else(|| bad(&format!("it has no {name}")))
    };
    let index: Value = serde_json::from_slice(&read_region(&mut file, get("manifest.json")?, MAX_SMALL_FILE)?)
        .map_err(|e| bad(&format!("manifest.json is not JSON: {e}")))?;
    let Some([image]) = index.as_array().map(Vec::as_slice) else {
        return Err(bad("manifest.json does not describe exactly one image"));
    };
    let config_name = image.get("Config").and_then(Value::as_str).unwrap_or("");
    let config = read_region(&mut file, get(config_name)?, MAX_SMALL_FILE)?;
    let cfg: Value = serde_json::from_slice(&config).map_err(|e| bad(&format!("the config is not JSON: {e}")))?;
    let diff_ids: Vec<&str> = cfg["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let layer_names: Vec<&str> = image
        .get("Layers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if layer_names.len() != diff_ids.len() {
        return Err(bad(&format!(
            "{} layers for {} diff_ids in the config",
            layer_names.len(),
            diff_ids.len()
        )));
    }
    let mut layers = vec![];
    for (name, diff_id) in layer_names.iter().zip(&diff_ids) {
        let entry = get(name)?;
        let digest = region_digest(&mut file, entry)?;
        if digest != *diff_id {
            return Err(bad(&format!("layer {name} is {digest}, the config says {diff_id}")));
        }
        layers.push(Blob { digest, entry });
    }
    let platform = platform_of(&cfg).ok_or_else(|| bad("the config names no os/architecture"))?;
    let manifest = image_manifest(&config, &layers, annotations)?;
    Ok(SavedImage {
        archive: archive.to_path_buf(),
        config,
        layers,
        manifest,
        platform,
    })
}

/// `os/arch[/variant]` of an image config.
fn platform_of(cfg: &Value) -> Option<String> {
    let s = |k: &str| cfg.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let mut p = format!("{}/{}", s("os")?, s("architecture")?);
    if let Some(v) = s("variant") {
        p.push('/');
        p.push_str(v);
    }
    Some(p)
}

/// The OCI image manifest of a config and its uncompressed layers, with annotations when there are any.
pub fn image_manifest(config: &[u8], layers: &[Blob], annotations: &[(String, String)]) -> Result<Manifest> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| json!({"mediaType": OCI_LAYER_TAR, "digest": l.digest, "size": l.entry.size}))
        .collect();
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": config.len()},
        "layers": layers,
    });
    if !annotations.is_empty() {
        let map: Map<String, Value> = annotations.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        m["annotations"] = Value::Object(map);
    }
    let bytes = serde_json::to_vec(&m).map_err(|e| Error::failure(format!("cannot encode the manifest: {e}")))?;
    Manifest::from_bytes(bytes, Some(OCI_MANIFEST))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A tar entry header (ustar) for `name` of `size` bytes.
    fn header(name: &str, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h
    }

    fn tar(files: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for (name, data) in files {
            f.write_all(&header(name, data.len(), b'0')).unwrap();
            f.write_all(data).unwrap();
            f.write_all(&vec![0u8; (512 - data.len() % 512) % 512]).unwrap();
        }
        f.write_all(&[0u8; 1024]).unwrap();
        f
    }

    #[test]
    fn reads_a_saved_image_and_checks_layers_against_diff_ids() {
        let layer = b"layer bytes".as_slice();
        let config = json!({"os": "linux", "architecture": "arm64", "variant": "v8",
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]}})
        .to_string();
        let index = r#"[{"Config":"c.json","Layers":["l1/layer.tar"]}]"#;
        let f = tar(&[
            ("manifest.json", index.as_bytes()),
            ("c.json", config.as_bytes()),
            ("l1/layer.tar", layer),
        ]);
        let ann = [("org.opencontainers.image.version".to_string(), "1.0.0".to_string())];
        let img = read_saved(f.path(), &ann).unwrap();
        assert_eq!(img.platform, "linux/arm64/v8");
        assert_eq!(img.layers[0].digest, sha256_digest(layer));
        assert_eq!(
            img.manifest.annotation("org.opencontainers.image.version").as_deref(),
            Some("1.0.0")
        );
        assert_eq!(img.manifest.blobs().len(), 2);
        assert_eq!(img.manifest.config_digest(), Some(sha256_digest(config.as_bytes())));

        // A layer that is not what the config says is refused.
        let f = tar(&[
            ("manifest.json", index.as_bytes()),
            ("c.json", config.as_bytes()),
            ("l1/layer.tar", b"other bytes"),
        ]);
        let e = read_saved(f.path(), &[]).unwrap_err().one_line();
        assert!(e.contains("the config says"), "{e}");
    }

    #[test]
    fn hostile_archives_are_refused_without_panics() {
        // Sizes past the end, garbage sizes, no manifest.json, two images.
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&header("manifest.json", 1 << 30, b'0')).unwrap();
        f.write_all(&[0u8; 512]).unwrap();
        assert!(read_saved(f.path(), &[])
            .unwrap_err()
            .one_line()
            .contains("past the end"));
        let mut h = header("x", 0, b'0');
        h[124..135].copy_from_slice(b"zzzzzzzzzzz");
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&h).unwrap();
        f.write_all(&[0u8; 1024]).unwrap();
        assert!(read_saved(f.path(), &[]).unwrap_err().one_line().contains("size"));
        let f = tar(&[("other", b"x")]);
        assert!(read_saved(f.path(), &[])
            .unwrap_err()
            .one_line()
            .contains("no manifest.json"));
        let f = tar(&[("manifest.json", b"[{},{}]")]);
        assert!(read_saved(f.path(), &[])
            .unwrap_err()
            .one_line()
            .contains("exactly one image"));
    }

    #[test]
    fn long_names_from_gnu_and_pax_headers() {
        let long = format!("{}/layer.tar", "d".repeat(120));
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let name = format!("{long}\0");
        f.write_all(&header("././@LongLink", name.len(), b'L')).unwrap();
        f.write_all(name.as_bytes()).unwrap();
        f.write_all(&vec![0u8; 512 - name.len() % 512]).unwrap();
        f.write_all(&header("short", 3, b'0')).unwrap();
        f.write_all(b"abc").unwrap();
        f.write_all(&[0u8; 509]).unwrap();
        let record = format!("{} path={long}\n", long.len() + 12);
        f.write_all(&header("pax", record.len(), b'x')).unwrap();
        f.write_all(record.as_bytes()).unwrap();
        f.write_all(&vec![0u8; 512 - record.len() % 512]).unwrap();
        f.write_all(&header("short2", 0, b'0')).unwrap();
        f.write_all(&[0u8; 1024]).unwrap();
        let entries = index_tar(&mut File::open(f.path()).unwrap()).unwrap();
        assert_eq!(entries[&long].size, 0, "the PAX name replaced the first");
        assert!(entries.contains_key(&long));
        assert_eq!(entries.len(), 1);
    }
}
