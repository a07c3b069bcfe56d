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
    let lead = LeadBuild::new(jobs.iter().position(|(t, k)| !builder.is_cached(*k, t)));
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
                        // Marks the lead done when dropped, also if its build panics.
                        let _turn = lead.turn(i);
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

/// The first build that is not cached goes alone: on a cold cache the first cells wait for its
/// compile, and the other builds' module downloads (unzipping and hashing, some 60 CPU-seconds for
/// the default tags) would slow it on 2 cores — by a third, measured on 2026-12-03 (121 s beside
/// them against 92 s alone). The builds after it then download while the next one compiles.
struct LeadBuild {
    index: Option<usize>,
    finished: Mutex<bool>,
    wake: std::sync::Condvar,
}

impl LeadBuild {
    fn new(index: Option<usize>) -> Self {
        LeadBuild {
            index,
            finished: Mutex::new(index.is_none()),
            wake: std::sync::Condvar::new(),
        }
    }

    /// Waits, for a build after the lead, until the lead is done; the lead's turn ends when the
    /// returned value is dropped.
    fn turn(&self, i: usize) -> LeadTurn<'_> {
        if self.index.is_some_and(|lead| i > lead) {
            let mut finished = lock(&self.finished);
            while !*finished {
                finished = self.wake.wait(finished).unwrap_or_else(|p| p.into_inner());
            }
        }
        LeadTurn {
            lead: self,
            is_lead: self.index == Some(i),
        }
    }
}

struct LeadTurn<'a> {
    lead: &'a LeadBuild,
    is_lead: bool,
}

impl Drop for LeadTurn<'_> {
    fn drop(&mut self) {
        if self.is_lead {
            *lock(&self.lead.finished) = true;
            self.lead.wake.notify_all();
        }
    }
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

#[cfg(test)]
mod tests {
    use super::LeadBuild;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// How long a turn may take to be given here: each is a lock and a wake-up, so this only
    /// fails a build order that never lets a turn go (which would otherwise hang the test run).
    const BOUND: Duration = Duration::from_secs(10);

    /// `body` on a thread of its own; a panic naming `what` when it is not done within BOUND.
    fn within<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)));
        });
        match rx.recv_timeout(BOUND) {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("{what}: not within {} s", BOUND.as_secs()),
        }
    }

    #[test]
    fn builds_after_the_lead_wait_for_it_and_builds_before_it_do_not() {
        let lead = Arc::new(LeadBuild::new(Some(1)));
        let lead_over = Arc::new(AtomicBool::new(false));
        let turn = lead.turn(1);
        // A cached build before the lead goes at once.
        let before = Arc::clone(&lead);
        within("a build before the lead goes at once", move || {
            drop(before.turn(0))
        });
        let after = {
            let (lead, lead_over) = (Arc::clone(&lead), Arc::clone(&lead_over));
            std::thread::spawn(move || {
                let _turn = lead.turn(2);
                lead_over.load(Ordering::SeqCst)
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !after.is_finished(),
            "a build after the lead started beside it"
        );
        lead_over.store(true, Ordering::SeqCst);
        drop(turn);
        let started_after_the_lead =
            within("the build after the lead goes once it is done", || {
                after.join().unwrap()
            });
        assert!(
            started_after_the_lead,
            "it started only once the lead was done"
        );
    }

    #[test]
    fn a_lead_that_panics_still_lets_the_others_go() {
        let lead = Arc::new(LeadBuild::new(Some(0)));
        let panicking = Arc::clone(&lead);
        let result = std::thread::spawn(move || {
            let _turn = panicking.turn(0);
            panic!("the lead's build panicked");
        })
        .join();
        assert!(result.is_err(), "the lead's build panicked");
        // A build after the lead waits until the lead's turn ends: after its panic, it must not
        // wait forever.
        within("a build after a lead that panicked goes", move || {
            drop(lead.turn(3))
        });
        within("a build without a lead goes at once", || {
            drop(LeadBuild::new(None).turn(5))
        });
    }
}
