//! Registry storage on disk: content-addressed blobs, tags per repository, upload sessions.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Storage {
    root: PathBuf,
}

/// A manifest as stored: its bytes and the media type it was pushed with.
pub struct Manifest {
    pub digest: String,
    pub media_type: String,
    pub body: Vec<u8>,
}

pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// `sha256:<64 hex>` only: anything else could escape the blob directory.
pub fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

/// Repository names per the distribution spec: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/…)*`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
                })
                && c.chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_alphanumeric())
                && c.chars()
                    .last()
                    .is_some_and(|ch| ch.is_ascii_alphanumeric())
        })
}

pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Storage {
    pub fn new(root: &Path) -> std::io::Result<Storage> {
        for d in ["blobs", "repos", "uploads"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        Ok(Storage {
            root: root.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join("blobs").join(digest.replace(':', "-"))
    }

    fn repo_dir(&self, name: &str) -> PathBuf {
        self.root.join("repos").join(name.replace('/', "%2F"))
    }

    /// Blobs are global, but a repository only "has" the ones linked into it (pushed or mounted).
    fn link(&self, name: &str, digest: &str) -> PathBuf {
        self.repo_dir(name)
            .join("links")
            .join(digest.replace(':', "-"))
    }

    pub fn has_blob(&self, name: &str, digest: &str) -> bool {
        valid_digest(digest) && self.link(name, digest).exists() && self.blob_path(digest).exists()
    }

    pub fn blob(&self, name: &str, digest: &str) -> Option<Vec<u8>> {
        if !self.has_blob(name, digest) {
            return None;
        }
        std::fs::read(self.blob_path(digest)).ok()
    }

    /// Stores `data` as a blob of `name`; returns its digest.
    pub fn put_blob(&self, name: &str, data: &[u8]) -> std::io::Result<String> {
        let digest = digest_of(data);
        let path = self.blob_path(&digest);
        if !path.exists() {
            std::fs::write(&path, data)?;
        }
        self.link_blob(name, &digest)?;
        Ok(digest)
    }

    pub fn link_blob(&self, name: &str, digest: &str) -> std::io::Result<()> {
        let link = self.link(name, digest);
        std::fs::create_dir_all(link.parent().expect("has parent"))?;
        std::fs::write(link, b"")
    }

    /// Mounts a blob from another repository; false if `from` does not have it.
    pub fn mount(&self, name: &str, from: &str, digest: &str) -> std::io::Result<bool> {
        if !self.has_blob(from, digest) {
            return Ok(false);
        }
        self.link_blob(name, digest)?;
        Ok(true)
    }

    pub fn delete_blob(&self, name: &str, digest: &str) -> bool {
        self.has_blob(name, digest) && std::fs::remove_file(self.link(name, digest)).is_ok()
    }

    pub fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> std::io::Result<String> {
        let digest = self.put_blob(name, body)?;
        let dir = self.repo_dir(name);
        std::fs::create_dir_all(dir.join("manifests"))?;
        std::fs::create_dir_all(dir.join("tags"))?;
        std::fs::write(
            dir.join("manifests").join(digest.replace(':', "-")),
            media_type,
        )?;
        if !reference.starts_with("sha256:") {
            std::fs::write(dir.join("tags").join(reference), &digest)?;
        }
        Ok(digest)
    }

    pub fn manifest(&self, name: &str, reference: &str) -> Option<Manifest> {
        let dir = self.repo_dir(name);
        let digest = if valid_digest(reference) {
            reference.to_string()
        } else if valid_tag(reference) {
            std::fs::read_to_string(dir.join("tags").join(reference)).ok()?
        } else {
            return None;
        };
        let media_type =
            std::fs::read_to_string(dir.join("manifests").join(digest.replace(':', "-"))).ok()?;
        let body = std::fs::read(self.blob_path(&digest)).ok()?;
        Some(Manifest {
            digest,
            media_type,
            body,
        })
    }

    pub fn delete_manifest(&self, name: &str, reference: &str) -> bool {
        let dir = self.repo_dir(name);
        if valid_digest(reference) {
            let removed =
                std::fs::remove_file(dir.join("manifests").join(reference.replace(':', "-")))
                    .is_ok();
            if removed {
                // Tags pointing at it go too.
                for tag in self.tags(name) {
                    if std::fs::read_to_string(dir.join("tags").join(&tag))
                        .ok()
                        .as_deref()
                        == Some(reference)
                    {
                        let _ = std::fs::remove_file(dir.join("tags").join(&tag));
                    }
                }
            }
            removed
        } else {
            valid_tag(reference) && std::fs::remove_file(dir.join("tags").join(reference)).is_ok()
        }
    }

    pub fn tags(&self, name: &str) -> Vec<String> {
        let mut tags: Vec<String> = std::fs::read_dir(self.repo_dir(name).join("tags"))
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }

    pub fn repo_exists(&self, name: &str) -> bool {
        self.repo_dir(name).exists()
    }

    // Upload sessions: a file that grows with each chunk.

    pub fn start_upload(&self) -> std::io::Result<String> {
        let id = crate::fakes::events::request_id();
        std::fs::write(self.root.join("uploads").join(&id), b"")?;
        Ok(id)
    }

    pub fn upload_size(&self, id: &str) -> Option<u64> {
        if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return None;
        }
        std::fs::metadata(self.root.join("uploads").join(id))
            .ok()
            .map(|m| m.len())
    }

    pub fn append_upload(&self, id: &str, data: &[u8]) -> std::io::Result<u64> {
        let path = self.root.join("uploads").join(id);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
        f.write_all(data)?;
        Ok(std::fs::metadata(path)?.len())
    }

    /// Completes an upload: the content must hash to `digest`.
    pub fn finish_upload(
        &self,
        name: &str,
        id: &str,
        digest: &str,
    ) -> std::io::Result<Result<(), ()>> {
        let path = self.root.join("uploads").join(id);
        let data = std::fs::read(&path)?;
        if digest_of(&data) != digest {
            return Ok(Err(()));
        }
        self.put_blob(name, &data)?;
        std::fs::remove_file(path)?;
        Ok(Ok(()))
    }

    pub fn cancel_upload(&self, id: &str) -> bool {
        self.upload_size(id).is_some()
            && std::fs::remove_file(self.root.join("uploads").join(id)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tags_and_digests_are_validated() {
        assert!(valid_name("library/busybox") && valid_name("a-b/c.d_e"));
        assert!(
            !valid_name("Upper")
                && !valid_name("../etc")
                && !valid_name("a//b")
                && !valid_name("-a")
        );
        assert!(valid_tag("v1.0") && !valid_tag(".hidden") && !valid_tag("a/b"));
        assert!(valid_digest(&digest_of(b"x")) && !valid_digest("sha256:../../etc/passwd"));
    }
}
