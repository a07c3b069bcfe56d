//! MinIO, the S3 server Argo's quick-start deploys, for `cloud.s3: minio` scenarios: the real
//! server (built from its Go module by `make minio`), started with a root user made per run and
//! seeded with S3 calls signed by `aws-sigv4`.

use super::moto::SeedObject;
use crate::shared::encoding::percent_encoded;
use axum::body::Bytes;
use http_body_util::Full;
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

/// Creates each object's bucket (once) and puts the object, as the root user: two S3 calls
/// (CreateBucket, PutObject), signed by `aws-sigv4`, AWS's own signer. (MinIO's Rust SDK, the
/// `minio` crate, did this until 2026-12-03: it and its 74 crates were a fifth of the CLI's build,
/// which a fresh machine's first result waits for; the suite still reads the seeded objects back
/// with it, with boto3 and with the AWS SDK for Rust.)
pub async fn seed(
    endpoint: &str,
    user: &str,
    password: &str,
    objects: &[SeedObject],
) -> Result<(), String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let signed_put = |path: String, body: Bytes| put(&client, endpoint, user, password, path, body);
    let mut made: Vec<&str> = Vec::new();
    for o in objects {
        if !made.contains(&o.bucket.as_str()) {
            signed_put(
                format!("/{}", percent_encoded(&o.bucket, b"")),
                Bytes::new(),
            )
            .await
            .map_err(|e| format!("MinIO: create bucket {}: {e}", o.bucket))?;
            made.push(&o.bucket);
        }
        let path = format!(
            "/{}/{}",
            percent_encoded(&o.bucket, b""),
            percent_encoded(&o.key, b"/")
        );
        signed_put(path, Bytes::from(o.body.clone()))
            .await
            .map_err(|e| format!("MinIO: put s3://{}/{}: {e}", o.bucket, o.key))?;
    }
    Ok(())
}

/// One HTTP client for all of a server's seeding calls.
type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A SigV4-signed `PUT` of `body` to `path`, as S3 clients sign (the payload's SHA-256 in
/// `x-amz-content-sha256`, the path encoded once); an error unless MinIO answers 2xx.
async fn put(
    client: &HttpClient,
    endpoint: &str,
    user: &str,
    password: &str,
    path: String,
    body: Bytes,
) -> Result<(), String> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    use http_body_util::BodyExt;
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    let identity =
        aws_credential_types::Credentials::new(user, password, None, None, "minio-root").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable =
        SignableRequest::new("PUT", &url, std::iter::empty(), SignableBody::Bytes(&body))
            .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut request = axum::http::Request::put(&url)
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut request);
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let answer = response
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    Err(format!("{status}: {answer}"))
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
