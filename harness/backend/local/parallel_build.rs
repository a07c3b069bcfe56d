//! Building the probes of many tags side by side: module downloads of one build overlap the
//! compiles of another (a cold build is mostly downloads), and a line every so often says what is
//! still running, so `make setup` never sits silent for minutes.

use super::probes::{BuildError, ProbeBuild, ProbeBuilder, ProbeKind};
use crate::shared::ArgoTag;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Builds at once unless `AUTHMATRIX_BUILD_JOBS` says otherwise: more than the 2 cores here,
/// because a cold build waits on the network for most of its time.
const DEFAULT_BUILD_JOBS: usize = 4;
const HEARTBEAT: Duration = Duration::from_secs(15);

fn jobs_wanted() -> usize {
    std::env::var("AUTHMATRIX_BUILD_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_BUILD_JOBS)
}

/// Builds (or finds cached) each (tag, component) probe, starting them in the order of `jobs`;
/// `finished` hears of each job (its index and result) as soon as it is done, so that cells can
/// run while other builds continue. Results in the order of `jobs`.
pub fn build_all(
    builder: &ProbeBuilder,
    jobs: &[(&ArgoTag, ProbeKind)],
    finished: &(dyn Fn(usize, &Result<ProbeBuild, BuildError>) + Sync),
) -> Vec<Result<ProbeBuild, BuildError>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let running: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let results: Vec<Mutex<Option<Result<ProbeBuild, BuildError>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let workers = jobs_wanted().min(jobs.len()).max(1);
    let all_done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let heartbeat = scope.spawn(|| {
            let mut last = Instant::now();
            while !all_done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if last.elapsed() < HEARTBEAT {
                    continue;
                }
                last = Instant::now();
                let now = running.lock().unwrap_or_else(|p| p.into_inner()).join(", ");
                let cells = crate::progress::cells_text()
                    .map(|c| format!("; {c}"))
                    .unwrap_or_default();
                crate::progress::line(&format!(
                    "probes: {}/{} done, {} modules downloaded so far; building {now}{cells}",
                    done.load(Ordering::Relaxed),
                    jobs.len(),
                    builder.modules_downloaded()
                ));
            }
        });
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(tag, kind)) = jobs.get(i) else {
                            break;
                        };
                        let label = format!("{}@{}", kind.label(), tag.tag);
                        lock(&running).push(label.clone());
                        crate::progress::build_running(&label, true);
                        let started = Instant::now();
                        let result = builder.build(kind, tag);
                        lock(&running).retain(|l| *l != label);
                        crate::progress::build_running(&label, false);
                        report(kind, tag, &result, started.elapsed());
                        finished(i, &result);
                        *lock(&results[i]) = Some(result);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        all_done.store(true, Ordering::Relaxed);
        let _ = heartbeat.join();
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(BuildError::Io("a build thread panicked".into())))
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn report(kind: ProbeKind, tag: &ArgoTag, result: &Result<ProbeBuild, BuildError>, took: Duration) {
    let line = match result {
        Ok(b) if took.as_secs_f64() < 1.0 => format!("cached with {}", b.go_version),
        Ok(b) => format!("built in {:.0} s with {}", b.build_seconds, b.go_version),
        Err(BuildError::UnknownTag { .. }) => return, // Reported once, with every unknown tag.
        Err(e) => format!(
            "FAILED: {}",
            e.to_string().lines().next().unwrap_or_default()
        ),
    };
    let probe = match kind.arch {
        None => kind.component.as_str().to_string(),
        Some(arch) => format!("{} ({})", kind.component.as_str(), arch.as_str()),
    };
    crate::progress::line(&format!("probe {probe} for {}: {line}", tag.tag));
}
