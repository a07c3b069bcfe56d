//! What an interrupted run may leave behind, looked for from outside: processes that still use its
//! directory, and cgroup trees whose sandbox is gone. The cluster and Docker tiers' kill tests use it.

use std::path::Path;
use std::time::{Duration, Instant};

/// Processes whose command line or environment mentions `dir` (the sandbox has it as TMPDIR;
/// etcd, the API server and the controller have their files under it).
pub fn processes_using(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let env = String::from_utf8_lossy(&environ);
            (text.contains(&needle) || env.contains(&needle)).then_some((pid, text))
        })
        .collect()
}

/// Waits up to `within` until no process uses `dir`; the ones left.
pub fn wait_until_gone(dir: &Path, within: Duration) -> Vec<(u32, String)> {
    poll_until_empty(within, || processes_using(dir))
}

/// Calls `left` every 100 ms until it returns nothing or `within` has passed; its last answer.
fn poll_until_empty<T>(within: Duration, left: impl Fn() -> Vec<T>) -> Vec<T> {
    let deadline = Instant::now() + within;
    loop {
        let now = left();
        if now.is_empty() || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Cgroup trees of node containers whose sandbox is gone (a live run's tree has a live pid): at
/// the top of a v1 hierarchy (/sys/fs/cgroup/<controller>/…) or of the v2 root (/sys/fs/cgroup/…).
pub fn orphaned_cgroups() -> Vec<String> {
    let subdirs = |dir: &Path| -> Vec<std::path::PathBuf> {
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        entries.map(|e| e.path()).filter(|p| p.is_dir()).collect()
    };
    let top = subdirs(Path::new("/sys/fs/cgroup"));
    let mut candidates: Vec<_> = top.iter().flat_map(|h| subdirs(h)).collect();
    candidates.extend(top);
    let orphaned = |p: &std::path::PathBuf| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        name.strip_prefix(authmatrix::cgroups::PREFIX)
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    };
    candidates
        .iter()
        .filter(|p| orphaned(p))
        .map(|p| p.display().to_string())
        .collect()
}

/// Pids of processes whose command line `matches` (its NUL-separated bytes).
pub fn pids_where(matches: impl Fn(&[u8]) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| matches(&c)))
        .collect()
}

/// Waits up to `within` until no process's command line `matches`; the ones left.
pub fn wait_until_none(within: Duration, matches: impl Fn(&[u8]) -> bool) -> Vec<u32> {
    poll_until_empty(within, || pids_where(&matches))
}

/// Sends `signal` as an interrupted run gets it: SIGINT to the process group (a terminal's
/// Ctrl-C), anything else to the process alone.
pub fn interrupt(pid: u32, signal: libc::c_int) {
    let pid = pid as i32;
    // SAFETY: plain kill(2) of a child (and its group) this test started.
    unsafe {
        if signal == libc::SIGINT {
            libc::kill(-pid, signal);
        } else {
            libc::kill(pid, signal);
        }
    }
}

/// What every interrupted run must leave: no mount under `tmp` and no cgroup tree of a gone
/// sandbox; after Ctrl-C also exit code 130 and no run directory.
pub fn assert_clean_after(tmp: &Path, signal: libc::c_int, status: std::process::ExitStatus) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(&tmp.display().to_string()),
        "no mount under the run's directory"
    );
    assert_eq!(
        orphaned_cgroups(),
        Vec::<String>::new(),
        "no container's cgroup is left"
    );
    if signal == libc::SIGINT {
        assert_eq!(status.code(), Some(130), "interrupted runs exit 130");
        let runs: Vec<_> = std::fs::read_dir(tmp)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("authmatrix-run-"))
            .collect();
        assert!(runs.is_empty(), "temporary run directory removed: {runs:?}");
    }
}
