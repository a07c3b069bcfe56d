//! MinIO, the S3 server Argo's quick-start deploys, for `cloud.s3: minio` scenarios: the real
//! server (built from its Go module by `make minio`), started with a root user made per run and
//! seeded through the `minio` crate, MinIO's own Rust SDK.

use super::moto::SeedObject;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to answer its readiness check (about a second here).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a MinIO server needs: its binary, its root user, the objects to seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinioLaunch {
    pub binary: PathBuf,
    pub root_user: String,
    pub root_password: String,
    pub objects: Vec<SeedObject>,
}

pub struct Minio {
    child: Child,
    /// `http://ip:port`, for clients.
    pub endpoint: String,
}

impl Minio {
    /// Starts `minio server` on `ip:port` with its data under `data_dir` and its output in `log`,
    /// waits until it is ready, and seeds `launch.objects` (buckets created as needed).
    pub fn start(
        launch: &MinioLaunch,
        data_dir: &Path,
        ip: &str,
        port: u16,
        log: &Path,
    ) -> Result<Minio, String> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("create {}: {e}", data_dir.display()))?;
        let log_file =
            std::fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err_file = log_file.try_clone().map_err(|e| e.to_string())?;
        let address = format!("{ip}:{port}");
        let mut cmd = Command::new(&launch.binary);
        cmd.args(["server", "--address", &address, "--quiet", "--anonymous"])
            .arg(data_dir)
            .env_clear()
            // Only what the server needs: no update checks (no network), no console (Argo never
            // uses it), the config under the data directory.
            .env("HOME", data_dir)
            .env("MINIO_ROOT_USER", &launch.root_user)
            .env("MINIO_ROOT_PASSWORD", &launch.root_password)
            .env("MINIO_BROWSER", "off")
            .env("MINIO_UPDATE", "off")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start MinIO ({}; `make minio` builds it): {e}",
                launch.binary.display()
            )
        })?;
        let mut server = Minio {
            child,
            endpoint: format!("http://{address}"),
        };
        server.wait_ready(&address, log)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(seed(
            &server.endpoint,
            &launch.root_user,
            &launch.root_password,
            &launch.objects,
        ))?;
        Ok(server)
    }

    /// Polls MinIO's cluster health: `/minio/health/ready` answers 200 as soon as the process
    /// listens, `/minio/health/cluster` only once its drive takes writes (before, S3 calls get
    /// `XMinioServerNotInitialized`).
    fn wait_ready(&mut self, address: &str, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "MinIO exited ({status}) before it was ready; its log ({}) ends with: {}",
                    log.display(),
                    tail(log)
                ));
            }
            if health_status(address) == Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "MinIO was not ready within {READY_TIMEOUT:?}; its log ({}) ends with: {}",
                    log.display(),
                    tail(log)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Minio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates each object's bucket (once) and puts the object, as the root user.
pub async fn seed(
    endpoint: &str,
    user: &str,
    password: &str,
    objects: &[SeedObject],
) -> Result<(), String> {
    use minio::s3::types::{BucketName, ObjectKey, S3Api};
    let client = client(endpoint, user, password)?;
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("MinIO: {what}: {e}");
    let mut made: Vec<&str> = Vec::new();
    for o in objects {
        let bucket = BucketName::new(&o.bucket).map_err(|e| fail(&o.bucket, &e))?;
        if !made.contains(&o.bucket.as_str()) {
            let exists = client
                .bucket_exists(bucket.clone())
                .map_err(|e| fail(&o.bucket, &e))?
                .build()
                .send()
                .await
                .map_err(|e| fail(&format!("bucket {}", o.bucket), &e))?
                .exists();
            if !exists {
                client
                    .create_bucket(bucket.clone())
                    .map_err(|e| fail(&o.bucket, &e))?
                    .build()
                    .send()
                    .await
                    .map_err(|e| fail(&format!("create bucket {}", o.bucket), &e))?;
            }
            made.push(&o.bucket);
        }
        let key = ObjectKey::new(&o.key).map_err(|e| fail(&o.key, &e))?;
        client
            .put_object_content(bucket, key, o.body.clone())
            .map_err(|e| fail(&o.key, &e))?
            .build()
            .send()
            .await
            .map_err(|e| fail(&format!("put s3://{}/{}", o.bucket, o.key), &e))?;
    }
    Ok(())
}

/// A `minio` crate client signing as `user`.
pub fn client(
    endpoint: &str,
    user: &str,
    password: &str,
) -> Result<minio::s3::MinioClient, String> {
    use minio::s3::creds::StaticProvider;
    let base_url = endpoint
        .parse::<minio::s3::http::BaseUrl>()
        .map_err(|e| format!("MinIO endpoint {endpoint}: {e}"))?;
    minio::s3::MinioClientBuilder::new(base_url)
        .provider(Some(StaticProvider::new(user, password, None)))
        .build()
        .map_err(|e| format!("MinIO client: {e}"))
}

/// The status of `GET /minio/health/cluster`, if the server answers at all.
fn health_status(address: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!(
        "GET /minio/health/cluster HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// SIGKILL when the process that started it dies: a server outliving a killed test or sandbox
/// would hold its port and data directory.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing allocates between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
