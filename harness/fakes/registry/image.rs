//! Test images built without a daemon: one gzip layer, an image config with a known Entrypoint and
//! Cmd, and an OCI manifest, written straight into the registry's storage.

use super::routes::{OCI_INDEX, OCI_MANIFEST};
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
/// (builds::images) import it as it is.
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

/// Stores the image under its tag: one image manifest for linux/amd64 when `index` is empty, else
/// an OCI image index whose children are one manifest per platform of `index` (`os/arch[/variant]`),
/// as multi-arch images are published. Returns the digest the tag points at.
pub fn store(storage: &Storage, image: &TestImage, index: &[String]) -> std::io::Result<String> {
    let layer = gzip_layer(storage, image)?;
    if index.is_empty() {
        let (manifest, _) = image_manifest(storage, image, &layer, "linux/amd64")?;
        return storage.put_manifest(
            &image.repository,
            &image.tag,
            OCI_MANIFEST,
            manifest.as_bytes(),
        );
    }
    let mut children = Vec::new();
    for platform in index {
        let (manifest, platform) = image_manifest(storage, image, &layer, platform)?;
        let digest = digest_of(manifest.as_bytes());
        storage.put_manifest(
            &image.repository,
            &digest,
            OCI_MANIFEST,
            manifest.as_bytes(),
        )?;
        children.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(), "platform": platform,
        }));
    }
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})
            .to_string();
    storage.put_manifest(&image.repository, &image.tag, OCI_INDEX, index.as_bytes())
}

/// The image's one layer, gzipped and stored: (digest, size, diff id).
struct Layer {
    digest: String,
    size: usize,
    diff_id: String,
}

fn gzip_layer(storage: &Storage, image: &TestImage) -> std::io::Result<Layer> {
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
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer_tar)?;
    let gz = gz.finish()?;
    Ok(Layer {
        digest: storage.put_blob(&image.repository, &gz)?,
        size: gz.len(),
        diff_id: digest_of(&layer_tar),
    })
}

/// An image manifest for one platform, its config stored; with the platform as an index names it.
fn image_manifest(
    storage: &Storage,
    image: &TestImage,
    layer: &Layer,
    platform: &str,
) -> std::io::Result<(String, serde_json::Value)> {
    let mut parts = platform.split('/');
    let (os, architecture) = (
        parts.next().unwrap_or("linux"),
        parts.next().unwrap_or("amd64"),
    );
    let mut platform = serde_json::json!({"architecture": architecture, "os": os});
    if let Some(variant) = parts.next() {
        platform["variant"] = variant.into();
    }
    let mut config = serde_json::json!({
        "config": {"Entrypoint": image.entrypoint, "Cmd": image.cmd, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    });
    for (k, v) in platform.as_object().expect("an object") {
        config[k] = v.clone();
    }
    let config = config.to_string();
    let config_digest = storage.put_blob(&image.repository, config.as_bytes())?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.digest, "size": layer.size}],
    })
    .to_string();
    Ok((manifest, platform))
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
