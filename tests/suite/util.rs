//! Fixtures shared by the suite: the fake cloud on loopback, and real clients to point at it.

use authmatrix::fakes::ca::Ca;
use authmatrix::fakes::cloud::{CloudBuilder, FakeCloud, Served};
use authmatrix::fakes::moto::SeedObject;
use authmatrix::fakes::oidc::OidcKeys;
use authmatrix::fakes::world;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BUCKET: &str = "suite-bucket";
pub const KEY: &str = "hello.txt";
pub const BODY: &str = "hello from the fake cloud\n";

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn python() -> PathBuf {
    authmatrix::tools::python(root())
        .expect("run `make setup` first: the suite needs .venv with moto and boto3")
}

/// The fake cloud on loopback: moto with enforcement on a free port, holding the suite's object.
/// Each test serves the fakes it checks, each on a free port, as `https://localhost:PORT` trusted
/// through `ca_file` (or plain HTTP for the agent).
pub struct Cloud {
    pub fakes: FakeCloud,
    pub ca_file: PathBuf,
    pub s3_endpoint: String,
    /// Dropped last: moto keeps its files here until it stops.
    pub dir: tempfile::TempDir,
}

impl Cloud {
    pub fn start() -> Cloud {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        let seed = [SeedObject {
            bucket: BUCKET.into(),
            key: KEY.into(),
            body: BODY.into(),
        }];
        let s3 = loopback(free_port());
        let oidc = OidcKeys::generate().unwrap();
        let fakes = CloudBuilder::new(
            &python(),
            dir.path(),
            s3,
            oidc,
            ca.issue(&["localhost"]).unwrap(),
        )
        .objects(&seed)
        .start()
        .expect("moto starts");
        Cloud {
            s3_endpoint: fakes.moto.keys.endpoint.clone(),
            fakes,
            ca_file,
            dir,
        }
    }

    /// The Pod Identity agent on 127.0.0.1 (the real address only exists in the sandbox).
    pub fn agent(&self, check_host: bool) -> String {
        let agent = self.fakes.serve_agent(loopback(0), check_host).unwrap();
        format!("http://{}/v1/credentials", agent.addr)
    }

    /// The STS emulator.
    pub fn sts(&self) -> String {
        https_url(self.fakes.serve_sts(loopback(0)))
    }

    /// The ECR API emulator; `fakes.ecr_tokens()` holds what it issued.
    pub fn ecr_api(&self) -> String {
        https_url(self.fakes.serve_ecr_api(loopback(0)))
    }

    /// The ECR Public API emulator; `fakes.ecr_public_tokens()` holds what it issued.
    pub fn ecr_public_api(&self) -> String {
        https_url(self.fakes.serve_ecr_public_api(loopback(0)))
    }

    /// Writes a token file (exactly these bytes) and returns its path.
    pub fn token_file(&self, name: &str, contents: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p.display().to_string()
    }

    /// A valid token for the workflow's service account with this audience.
    pub fn token(&self, audience: &str, nbf: i64, exp: i64) -> String {
        self.fakes
            .oidc
            .mint(world::NAMESPACE, world::SERVICE_ACCOUNT, audience, nbf, exp)
    }

    /// The environment every client gets: no config files, no instance metadata, our S3 object.
    pub fn base_env(&self) -> Vec<(String, String)> {
        let nowhere = self.dir.path().join("nonexistent").display().to_string();
        [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", &self.dir.path().display().to_string()),
            ("AWS_CONFIG_FILE", &nowhere),
            ("AWS_SHARED_CREDENTIALS_FILE", &nowhere),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_REGION", "us-east-1"),
            ("TEST_S3_ENDPOINT", &self.s3_endpoint),
            ("TEST_BUCKET", BUCKET),
            ("TEST_KEY", KEY),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Where a fake serving TLS answers to the name its certificate holds.
fn https_url(served: Result<Served, String>) -> String {
    format!("https://localhost:{}", served.unwrap().addr.port())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a client reported: the credentials' key id and the object body, or an error.
#[derive(Debug, serde::Deserialize)]
pub struct ClientResult {
    pub access_key_id: Option<String>,
    pub body: Option<String>,
    pub error: Option<String>,
}

/// boto3, with exactly `env`.
pub fn boto3(env: &[(String, String)]) -> ClientResult {
    python_client("boto3_client.py", env)
}

/// One of the Python clients in tests/suite/clients, with exactly `env`.
pub fn python_client(script: &str, env: &[(String, String)]) -> ClientResult {
    let out = Command::new(python())
        .arg(root().join("tests/suite/clients").join(script))
        .env_clear()
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    parse_result(&out.stdout, &out.stderr)
}

/// The AWS SDK for Rust, with exactly `env`: this test binary re-run as `rust_sdk_client`.
pub fn rust_sdk(env: &[(String, String)]) -> ClientResult {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fakes::rust_sdk_client",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env_clear()
        .envs(env.iter().cloned())
        .env("AUTHMATRIX_RUST_CLIENT", "1")
        .output()
        .unwrap();
    parse_result(&out.stdout, &out.stderr)
}

fn parse_result(stdout: &[u8], stderr: &[u8]) -> ClientResult {
    let text = String::from_utf8_lossy(stdout);
    // libtest prints the test's name on the same line before the child's output.
    let line = text.lines().find_map(|l| {
        l.find("CLIENT-RESULT ")
            .map(|i| &l[i + "CLIENT-RESULT ".len()..])
            .or(l.starts_with('{').then_some(l))
    });
    match line {
        Some(l) => serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")),
        None => panic!(
            "the client printed no result:\n{text}\n{}",
            String::from_utf8_lossy(stderr)
        ),
    }
}

/// How long a command the suite runs to the end may take: far beyond any run here (a cold probe
/// build is minutes), only so that a hung run fails its test instead of hanging `cargo test`.
pub const RUN_BOUND: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// `cmd`'s output once it exits, within [`RUN_BOUND`]; killed and failing the test after it.
pub fn output_within(cmd: &mut std::process::Command) -> std::process::Output {
    // As `Command::output` has it: no stdin, stdout and stderr captured.
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the command starts");
    /// Kills the child when its wait fails the test (a timeout), so that it does not outlive it.
    struct KillOnPanic(u32);
    impl Drop for KillOnPanic {
        fn drop(&mut self) {
            if std::thread::panicking() {
                // SAFETY: plain kill(2) of the child this test started.
                unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
            }
        }
    }
    let _guard = KillOnPanic(child.id());
    let what = format!("{cmd:?}");
    within(RUN_BOUND, &what, move || child.wait_with_output()).expect("waiting for the command")
}

/// Runs `cmd` to the end: its exit code (-1 for a signal) and its stdout then stderr as text.
pub fn run_text(cmd: &mut std::process::Command) -> (i32, String) {
    let out = output_within(cmd);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The `authmatrix` command this test build made: exit code, stdout, stderr.
pub fn authmatrix(args: &[&str]) -> (Option<i32>, String, String) {
    let out =
        output_within(std::process::Command::new(env!("CARGO_BIN_EXE_authmatrix")).args(args));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `body`'s result, or a panic naming `what` when it is not done within `limit`: for a test
/// that waits on other threads or processes, which would otherwise hang the whole run instead of
/// failing. The body runs on a thread of its own, left behind on a timeout (the run ends anyway).
pub fn within<T: Send + 'static>(
    limit: std::time::Duration,
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        // The body's own failure, as if it had run here.
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: not done within {} s", limit.as_secs_f64()),
    }
}

/// The exit status of `child`, which leads its own process group; when it has not exited within
/// `limit`, the group is killed and the test fails naming `what`.
pub fn wait_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            // SAFETY: plain kill(2) of the child's own group, and of the child if it leads none.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
                libc::kill(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
            panic!(
                "{what}: pid {} still running after {} s (its group was killed)",
                child.id(),
                limit.as_secs_f64()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Spawns `cmd` (an `authmatrix` run) in a process group of its own, as a terminal's foreground
/// job, and waits until it says its sandbox is ready (the probe builds come first and may take a
/// while cold): the child, and what it printed before.
pub fn spawn_until_sandbox_ready(cmd: &mut Command) -> (std::process::Child, Vec<String>) {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let (mut seen, deadline) = (Vec::new(), Instant::now() + Duration::from_secs(600));
    loop {
        assert!(
            Instant::now() < deadline,
            "no sandbox in time:\n{}",
            seen.join("\n")
        );
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) if line.contains("sandbox ready") => return (child, seen),
            Ok(line) => seen.push(line),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!(
                "authmatrix ended before its sandbox was ready:\n{}",
                seen.join("\n")
            ),
        }
    }
}
