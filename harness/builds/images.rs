//! The images a node runs, written as OCI archives by the harness (no daemon, no registry) and
//! imported into the node's containerd: the pod sandbox's pause image, the test image workflows run,
//! and argoexec per Argo tag — built from the tag's module, with the files Argo's Dockerfile puts
//! beside it (`argoexec` stage: /bin/argoexec, /etc/nsswitch.conf, /etc/ssh/ssh_known_hosts) and
//! the run's CA as the system trust store (the fake cloud's HTTPS endpoints are signed by it).

pub use crate::fakes::registry::image::Entry;
use crate::fakes::registry::image::layer;
use crate::fakes::registry::storage::digest_of;
use std::path::Path;

pub const PAUSE: &str = "authmatrix.test/pause:1.0";

/// The image executor-s3 workflows run as their main container (busybox): `backend::objects`
/// names it in the workflow, and a cluster node imports it from here.
pub const TEST_IMAGE: &str = "authmatrix.test/busybox:1.0";

pub fn argoexec(tag: &str) -> String {
    format!("authmatrix.test/argoexec:{tag}")
}

pub struct ImageSpec {
    /// The full reference containerd will know it by.
    pub name: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub entries: Vec<Entry>,
}

fn busybox_entries() -> Result<Vec<Entry>, String> {
    let data = std::fs::read("/bin/busybox")
        .map_err(|e| format!("/bin/busybox ({e}): install Debian's busybox-static (make setup)"))?;
    Ok(vec![
        Entry::Dir {
            path: "bin".into(),
            mode: 0o755,
        },
        Entry::File {
            path: "bin/busybox".into(),
            data,
            mode: 0o755,
        },
        Entry::Dir {
            path: "tmp".into(),
            mode: 0o1777,
        },
    ])
}

/// The pod sandbox's image: blocks until killed (containerd stops sandboxes with SIGKILL).
pub fn pause() -> Result<ImageSpec, String> {
    Ok(ImageSpec {
        name: PAUSE.into(),
        entrypoint: vec!["/bin/busybox".into(), "sleep".into(), "2147483647".into()],
        cmd: vec![],
        entries: busybox_entries()?,
    })
}

pub fn test_image() -> Result<ImageSpec, String> {
    Ok(ImageSpec {
        name: TEST_IMAGE.into(),
        entrypoint: vec!["/bin/busybox".into()],
        cmd: vec!["true".into()],
        entries: busybox_entries()?,
    })
}

/// argoexec of one tag, as Argo's Dockerfile assembles it (distroless static, root).
pub fn argoexec_image(
    tag: &str,
    binary: &Path,
    known_hosts: Option<&Path>,
    ca_pem: &str,
) -> Result<ImageSpec, String> {
    let data = std::fs::read(binary).map_err(|e| format!("read {}: {e}", binary.display()))?;
    let mut entries = vec![
        Entry::Dir {
            path: "bin".into(),
            mode: 0o755,
        },
        Entry::File {
            path: "bin/argoexec".into(),
            data,
            mode: 0o755,
        },
        Entry::Dir {
            path: "etc".into(),
            mode: 0o755,
        },
        Entry::File {
            path: "etc/nsswitch.conf".into(),
            data: b"hosts: files dns\n".to_vec(),
            mode: 0o644,
        },
        Entry::File {
            path: "etc/passwd".into(),
            data: b"root:x:0:0:root:/root:/sbin/nologin\n".to_vec(),
            mode: 0o644,
        },
        Entry::Dir {
            path: "etc/ssl".into(),
            mode: 0o755,
        },
        Entry::Dir {
            path: "etc/ssl/certs".into(),
            mode: 0o755,
        },
        Entry::File {
            path: "etc/ssl/certs/ca-certificates.crt".into(),
            data: ca_pem.as_bytes().to_vec(),
            mode: 0o644,
        },
        Entry::Dir {
            path: "tmp".into(),
            mode: 0o1777,
        },
    ];
    if let Some(path) = known_hosts {
        let data = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        entries.push(Entry::Dir {
            path: "etc/ssh".into(),
            mode: 0o755,
        });
        entries.push(Entry::File {
            path: "etc/ssh/ssh_known_hosts".into(),
            data,
            mode: 0o644,
        });
    }
    Ok(ImageSpec {
        name: argoexec(tag),
        entrypoint: vec!["argoexec".into()],
        cmd: vec![],
        entries,
    })
}

/// Writes `image` as an OCI image layout in a tar (what `ctr images import` reads), with an
/// uncompressed layer: imported once, on the same machine, gzip would only cost time.
pub fn write_archive(image: &ImageSpec, path: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| format!("write {}: {e}", path.display());
    let layer = layer(&image.entries).map_err(io)?;
    let layer_digest = digest_of(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": image.entrypoint,
            "Cmd": if image.cmd.is_empty() { serde_json::Value::Null } else { image.cmd.clone().into() },
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
    .to_string();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config.as_bytes()), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    })
    .to_string();
    let tag = image
        .name
        .rsplit_once(':')
        .map(|(_, t)| t)
        .unwrap_or("latest");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest_of(manifest.as_bytes()),
            "size": manifest.len(),
            "annotations": {"io.containerd.image.name": image.name, "org.opencontainers.image.ref.name": tag},
        }],
    })
    .to_string();
    let file = std::fs::File::create(path).map_err(io)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let mut put = |name: String, data: &[u8]| -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        tar.append_data(&mut h, name, data)
    };
    let blob = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    put("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io)?;
    put(blob(&layer_digest), &layer).map_err(io)?;
    put(blob(&digest_of(config.as_bytes())), config.as_bytes()).map_err(io)?;
    put(blob(&digest_of(manifest.as_bytes())), manifest.as_bytes()).map_err(io)?;
    put("index.json".into(), index.as_bytes()).map_err(io)?;
    tar.into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_names_the_image_and_its_blobs_match_their_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tar");
        let image = ImageSpec {
            name: "authmatrix.test/x:1.0".into(),
            entrypoint: vec!["/x".into()],
            cmd: vec![],
            entries: vec![Entry::File {
                path: "x".into(),
                data: b"hi".to_vec(),
                mode: 0o755,
            }],
        };
        write_archive(&image, &path).unwrap();
        let mut archive = tar::Archive::new(std::fs::File::open(&path).unwrap());
        let mut index = None;
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                assert_eq!(digest_of(&data), format!("sha256:{hex}"));
            }
            if name == "index.json" {
                index = Some(serde_json::from_slice::<serde_json::Value>(&data).unwrap());
            }
        }
        let index = index.unwrap();
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "authmatrix.test/x:1.0"
        );
    }
}
