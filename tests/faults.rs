//! The fault script (not part of `cargo test`; `make faults` runs it): interrupts runs of the
//! harness at random moments and counts what each left behind.
//!
//! Each run: `authmatrix run` on a few cells of one tag, in a process group of its own, with a
//! private TMPDIR and a private probe cache in which every third run finds its probe missing (so
//! interrupts also land in `go build`). After a random delay one fault: SIGINT to the group (a
//! terminal's Ctrl-C), SIGTERM to the harness, SIGKILL of the harness, or SIGKILL of one sandbox
//! process. Then it counts processes, mounts, network namespaces, cgroups, temporary directories,
//! partial reports and cache entries, against the state before the campaign.
//!
//! A SIGKILLed harness runs no handler, so its temporary directory (and a half-built probe)
//! can only go when the next run starts: those are counted as "left for the next run" and must be
//! gone after the final, uninterrupted run, which must also pass every cell (a half-written probe
//! never breaks a later run).
//!
//! FAULT_RUNS (default 100) and FAULT_SEED (default: the time) steer it.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TAG: &str = "v3.6.5";
const SCENARIOS: &[&str] = &[
    "s3-static-keys",
    "s3-pod-identity-agent-down",
    "basic-pull-secret-entrypoint",
    "ecr-irsa-entrypoint",
];
const MAX_DELAY_MS: u64 = 12_000;
const MARK: &str = "AUTHMATRIX_FAULT_CAMPAIGN";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    SigintGroup,
    SigtermHarness,
    SigkillHarness,
    SigkillSandbox,
}

impl Fault {
    const ALL: [Fault; 4] = [
        Fault::SigintGroup,
        Fault::SigtermHarness,
        Fault::SigkillHarness,
        Fault::SigkillSandbox,
    ];
    fn name(self) -> &'static str {
        match self {
            Fault::SigintGroup => "SIGINT (Ctrl-C)",
            Fault::SigtermHarness => "SIGTERM harness",
            Fault::SigkillHarness => "SIGKILL harness",
            Fault::SigkillSandbox => "SIGKILL sandbox",
        }
    }
}

/// xorshift64*: reproducible from FAULT_SEED, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// What the host holds that a run could leak.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    processes: BTreeSet<u32>,
    mounts: BTreeSet<String>,
    netns: BTreeSet<String>,
    cgroups: BTreeSet<String>,
    temp: BTreeSet<String>,
    partial_builds: BTreeSet<String>,
}

fn snapshot(campaign: &Path, tmp: &Path, cache: &Path) -> Snapshot {
    let mut s = Snapshot::default();
    for pid in pids() {
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let marked = env
            .split(|b| *b == 0)
            .any(|kv| kv.starts_with(format!("{MARK}=").as_bytes()));
        if marked {
            s.processes.insert(pid);
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let campaign_text = campaign.display().to_string();
    s.mounts = mountinfo
        .lines()
        .filter(|l| l.contains(&campaign_text) || l.contains("authmatrix") || l.contains(" nsfs "))
        .map(|l| l.split_whitespace().nth(4).unwrap_or_default().to_string())
        .collect();
    s.netns = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for root in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for e in std::fs::read_dir(root.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("authmatrix-") {
                s.cgroups
                    .insert(format!("{}/{name}", root.file_name().to_string_lossy()));
            }
        }
    }
    s.temp = std::fs::read_dir(tmp)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    s.partial_builds = authmatrix::builds::cache::all_partials(&cache.join("probes"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    s
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Children of `pid` (any depth) whose command line names the sandbox.
fn sandbox_processes(harness: u32) -> Vec<u32> {
    let mut parents: BTreeMap<u32, u32> = BTreeMap::new();
    for pid in pids() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        {
            parents.insert(pid, ppid);
        }
    }
    let descends = |mut p: u32| {
        while let Some(&pp) = parents.get(&p) {
            if pp == harness {
                return true;
            }
            p = pp;
        }
        false
    };
    parents
        .keys()
        .copied()
        .filter(|p| descends(*p))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("sandbox-serve"))
        })
        .collect()
}

/// Entries a lookup would use (no leading dot) that are not whole: no build.json or no probe.
fn corrupt_cache_entries(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("probes"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| !(e.path().join("build.json").is_file() && e.path().join("probe").is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A report directory holds a whole report or none, and no partial files.
fn report_state(out: &Path) -> Result<&'static str, String> {
    let names: Vec<String> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if let Some(p) = names.iter().find(|n| n.contains(".partial-")) {
        return Err(format!("partial file {p}"));
    }
    if !names.iter().any(|n| n == "report.json") {
        return Ok("none");
    }
    let text = std::fs::read_to_string(out.join("report.json")).map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("report.json does not parse: {e}"))?;
    let cells = report["cells"].as_array().map(Vec::len).unwrap_or(0);
    if cells != SCENARIOS.len() {
        return Err(format!("report.json has {cells} cells"));
    }
    Ok("whole")
}

fn authmatrix(tmp: &Path, cache: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authmatrix"));
    cmd.args(["run", "--argo", TAG, "--jobs", "2", "--out"])
        .arg(out)
        .env("TMPDIR", tmp)
        .env("AUTHMATRIX_CACHE", cache)
        .env(MARK, "1")
        .env_remove("AUTHMATRIX_FAULT")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for s in SCENARIOS {
        cmd.args(["--scenario", s]);
    }
    cmd
}

fn wait_until<F: FnMut() -> bool>(within: Duration, mut done: F) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

#[derive(Default)]
struct Tally {
    runs: usize,
    exit_codes: BTreeMap<String, usize>,
    reports: BTreeMap<&'static str, usize>,
    hung: usize,
    sandbox_found: usize,
    leaked: Vec<String>,
    left_for_next: Vec<String>,
}

fn main() {
    let runs: usize = std::env::var("FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut rng = Rng(seed | 1);
    let campaign = tempfile::Builder::new()
        .prefix("authmatrix-faults-")
        .tempdir()
        .unwrap();
    let (tmp, cache) = (campaign.path().join("tmp"), campaign.path().join("cache"));
    std::fs::create_dir_all(&tmp).unwrap();
    let real_cache = authmatrix::builds::cache_dir();

    // A private probe cache holding this tag's probes, so rebuilds cannot touch the real cache.
    let prepared = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        .args(["prepare", "--argo", TAG])
        .env("AUTHMATRIX_CACHE", &real_cache)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(prepared.success(), "probes for {TAG} build");
    std::fs::create_dir_all(cache.join("probes")).unwrap();
    for e in std::fs::read_dir(real_cache.join("probes"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains(&format!("-{TAG}-")) && !name.starts_with('.') {
            let status = Command::new("cp")
                .arg("-a")
                .arg(e.path())
                .arg(cache.join("probes"))
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    let before = snapshot(campaign.path(), &tmp, &cache);
    println!(
        "fault campaign: {runs} runs, seed {seed}, tag {TAG}, {} cells per run",
        SCENARIOS.len()
    );

    let mut tally: BTreeMap<Fault, Tally> = BTreeMap::new();
    let started = Instant::now();
    for i in 0..runs {
        let fault = Fault::ALL[i % Fault::ALL.len()];
        let delay = Duration::from_millis(rng.next() % MAX_DELAY_MS);
        let rebuild = i % 3 == 0;
        if rebuild {
            // This run builds its s3 probe (interrupts then also land in `go build`).
            for e in std::fs::read_dir(cache.join("probes")).unwrap().flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("s3-{TAG}-"))
                {
                    std::fs::remove_dir_all(e.path()).unwrap();
                }
            }
        }
        let out = campaign.path().join(format!("out-{i}"));
        let prior = snapshot(campaign.path(), &tmp, &cache);
        let mut child = authmatrix(&tmp, &cache, &out)
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        std::thread::sleep(delay);
        let t = tally.entry(fault).or_default();
        t.runs += 1;
        // SAFETY: plain kill(2) on our own child (group).
        unsafe {
            match fault {
                Fault::SigintGroup => libc::kill(-(pid as i32), libc::SIGINT),
                Fault::SigtermHarness => libc::kill(pid as i32, libc::SIGTERM),
                Fault::SigkillHarness => libc::kill(pid as i32, libc::SIGKILL),
                Fault::SigkillSandbox => match sandbox_processes(pid).first() {
                    Some(&s) => {
                        t.sandbox_found += 1;
                        libc::kill(s as i32, libc::SIGKILL)
                    }
                    // None yet (building) or none left (done): the run goes on undisturbed.
                    None => 0,
                },
            };
        }
        let exited = wait_until(Duration::from_secs(120), || {
            child.try_wait().ok().flatten().is_some()
        });
        if !exited {
            t.hung += 1;
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
        let status = child.wait().unwrap();
        let code = status
            .code()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "signal".into());
        *t.exit_codes.entry(code).or_default() += 1;
        match report_state(&out) {
            Ok(state) => *t.reports.entry(state).or_default() += 1,
            Err(e) => t.leaked.push(format!("run {i}: half a report: {e}")),
        }
        // Processes die with their sandbox's PID namespace; give the kernel a moment.
        wait_until(Duration::from_secs(10), || {
            snapshot(campaign.path(), &tmp, &cache).processes.is_empty()
        });
        let after = snapshot(campaign.path(), &tmp, &cache);
        let mut note = |what: &str, extra: Vec<String>, for_next: bool| {
            if extra.is_empty() {
                return;
            }
            let line = format!(
                "run {i} ({}, {} ms): {what}: {extra:?}",
                fault.name(),
                delay.as_millis()
            );
            if for_next {
                t.left_for_next.push(line)
            } else {
                t.leaked.push(line)
            }
        };
        let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
            b.difference(a).cloned().collect::<Vec<_>>()
        };
        note(
            "processes",
            after.processes.iter().map(|p| p.to_string()).collect(),
            false,
        );
        note("mounts", diff(&prior.mounts, &after.mounts), false);
        note(
            "network namespaces",
            diff(&prior.netns, &after.netns),
            false,
        );
        note("cgroups", diff(&prior.cgroups, &after.cgroups), false);
        let killed = fault == Fault::SigkillHarness || !exited;
        note(
            "temporary directories",
            diff(&prior.temp, &after.temp),
            killed,
        );
        note(
            "partial builds",
            diff(&prior.partial_builds, &after.partial_builds),
            killed,
        );
        let corrupt = corrupt_cache_entries(&cache);
        note("corrupt cache entries", corrupt, false);
        if !after.processes.is_empty() {
            unsafe {
                for p in &after.processes {
                    libc::kill(*p as i32, libc::SIGKILL);
                }
            }
        }
        eprintln!(
            "[{}/{runs}] {} after {} ms{}: exit {}",
            i + 1,
            fault.name(),
            delay.as_millis(),
            if rebuild { " (probe rebuilding)" } else { "" },
            status
                .code()
                .map(|c| c.to_string())
                .unwrap_or("by signal".into())
        );
    }

    // One uninterrupted run: it must clear what killed runs left and pass every cell.
    let final_out = campaign.path().join("out-final");
    let final_status = authmatrix(&tmp, &cache, &final_out).status().unwrap();
    wait_until(Duration::from_secs(10), || {
        snapshot(campaign.path(), &tmp, &cache).processes.is_empty()
    });
    let end = snapshot(campaign.path(), &tmp, &cache);
    let final_ok = final_status.success() && report_state(&final_out) == Ok("whole");

    println!(
        "\n| fault | runs | sandbox hit | exit codes | reports (whole/none) | hung | leaked | left for the next run |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut leaked_total = 0;
    for (fault, t) in &tally {
        leaked_total += t.leaked.len();
        println!(
            "| {} | {} | {} | {} | {}/{} | {} | {} | {} |",
            fault.name(),
            t.runs,
            if *fault == Fault::SigkillSandbox {
                t.sandbox_found.to_string()
            } else {
                "—".into()
            },
            t.exit_codes
                .iter()
                .map(|(c, n)| format!("{c}×{n}"))
                .collect::<Vec<_>>()
                .join(" "),
            t.reports.get("whole").unwrap_or(&0),
            t.reports.get("none").unwrap_or(&0),
            t.hung,
            t.leaked.len(),
            t.left_for_next.len(),
        );
    }
    for t in tally.values() {
        for l in t.leaked.iter().chain(&t.left_for_next) {
            println!("  {l}");
        }
    }
    let residue: Vec<String> = end
        .temp
        .difference(&before.temp)
        .chain(end.partial_builds.difference(&before.partial_builds))
        .cloned()
        .collect();
    let corrupt = corrupt_cache_entries(&cache);
    println!(
        "\nafter the final run: exit {:?}, report {:?}; left over: {residue:?}; corrupt cache entries: {corrupt:?}; processes: {}",
        final_status.code(),
        report_state(&final_out),
        end.processes.len()
    );
    println!("campaign took {:.0} s", started.elapsed().as_secs_f64());
    let ok = leaked_total == 0
        && residue.is_empty()
        && corrupt.is_empty()
        && final_ok
        && end.processes.is_empty()
        && tally.values().all(|t| t.hung == 0);
    println!(
        "{}",
        if ok {
            "RESULT: 0 leaked, 0 corrupted"
        } else {
            "RESULT: FAULTS FOUND"
        }
    );
    drop(campaign); // exit() below skips destructors.
    if !ok {
        std::process::exit(1);
    }
}
