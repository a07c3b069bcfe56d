//! Test images built without a daemon: one gzip layer, an image config with a known Entrypoint and
//! Cmd, and an OCI manifest, written straight into the registry's storage.

use super::routes::OCI_MANIFEST;
use super::storage::{Storage, digest_of};
use std::io::Write;

pub struct TestImage {
    pub repository: String,
    pub tag: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// Files of the single layer: path in the image → contents.
    pub files: Vec<(String, Vec<u8>, u32)>,
}

/// One entry of a layer.
pub enum Entry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
        mode: u32,
    },
}

/// A layer as an uncompressed tar, reproducible (mtime 0): registry images gzip it, node images
/// (backend::cluster::images) import it as it is.
pub fn layer(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        match entry {
            Entry::Dir { path, mode } => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                h.set_cksum();
                tar.append_data(&mut h, path, std::io::empty())?;
            }
            Entry::File { path, data, mode } => {
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                h.set_cksum();
                tar.append_data(&mut h, path, data.as_slice())?;
            }
        }
    }
    tar.into_inner()
}

/// Stores the image; returns the manifest digest.
pub fn store(storage: &Storage, image: &TestImage) -> std::io::Result<String> {
    let entries: Vec<Entry> = image
        .files
        .iter()
        .map(|(path, data, mode)| Entry::File {
            path: path.clone(),
            data: data.clone(),
            mode: *mode,
        })
        .collect();
    let layer_tar = layer(&entries)?;
    let diff_id = digest_of(&layer_tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer_tar)?;
    let layer = gz.finish()?;
    let layer_digest = storage.put_blob(&image.repository, &layer)?;

    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": image.entrypoint, "Cmd": image.cmd, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string();
    let config_digest = storage.put_blob(&image.repository, config.as_bytes())?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    })
    .to_string();
    storage.put_manifest(
        &image.repository,
        &image.tag,
        OCI_MANIFEST,
        manifest.as_bytes(),
    )
}

/// A busybox-static image when the host has `/bin/busybox` (Debian busybox-static), else a layer
/// with one small file: the entrypoint lookup reads only the config.
pub fn busybox(repository: &str, tag: &str, entrypoint: &[&str], cmd: &[&str]) -> TestImage {
    let files = match std::fs::read("/bin/busybox") {
        Ok(data) => vec![("bin/busybox".to_string(), data, 0o755)],
        Err(_) => vec![(
            "etc/authmatrix".to_string(),
            b"authmatrix test image\n".to_vec(),
            0o644,
        )],
    };
    TestImage {
        repository: repository.to_string(),
        tag: tag.to_string(),
        entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        files,
    }
}
