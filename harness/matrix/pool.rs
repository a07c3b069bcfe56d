//! Backends shared by whoever runs cells one at a time from many threads (the matrix test's
//! trials): a cell takes a free backend, waits when all are busy, and gives it back even when
//! the cell panics. A pool whose backends share their builds (`stream`) runs a cell as soon as its
//! build is done, while the other builds continue.

use super::run_cell;
use crate::backend::{Backend, BuildEvent, TagInfos};
use crate::report::Cell;
use crate::scenario::Scenario;
use crate::shared::ArgoTag;
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};

type Boxed = Box<dyn Backend + Send>;

pub struct BackendPool {
    free: Mutex<Vec<Boxed>>,
    returned: Condvar,
    /// The builds under way, when cells start as their builds end.
    builds: Option<Arc<Gate>>,
    /// What `prepare` returned, or the thread that builds.
    versions: Mutex<Versions>,
}

enum Versions {
    Prepared(TagInfos),
    Building(std::thread::JoinHandle<anyhow::Result<TagInfos>>),
    Taken,
}

/// Which cells (scenario id, tag) can run, and whether builds still run.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    ready: HashSet<(String, String)>,
    /// Builds ended; with the error that fails the run, if any.
    ended: Option<Option<String>>,
    /// The run will fail when builds end: start no more cells.
    doomed: bool,
}

impl BackendPool {
    /// A pool of prepared backends (`matrix::prepare`).
    pub fn new(backends: Vec<Boxed>) -> Self {
        Self::with(backends, None, Versions::Prepared(TagInfos::new()))
    }

    fn with(backends: Vec<Boxed>, builds: Option<Arc<Gate>>, versions: Versions) -> Self {
        assert!(!backends.is_empty(), "a pool has backends");
        BackendPool {
            free: Mutex::new(backends),
            returned: Condvar::new(),
            builds,
            versions: Mutex::new(versions),
        }
    }

    /// Gets the backends ready for these cells: when they share their builds, starts every
    /// backend (its sandbox) while the builds run in the background, and `wait_ready` tells when a
    /// cell's build is done; otherwise prepares everything first (`matrix::prepare`).
    pub fn prepare(
        mut backends: Vec<Boxed>,
        scenarios: &[Scenario],
        tags: &[ArgoTag],
    ) -> anyhow::Result<Self> {
        let Some(builds) = super::stream::shared_builds(&backends) else {
            let versions = super::prepare(&mut backends, scenarios, tags)?;
            return Ok(Self::with(backends, None, Versions::Prepared(versions)));
        };
        let gate = Arc::new(Gate::default());
        let thread = {
            let (gate, scenarios, tags) = (Arc::clone(&gate), scenarios.to_vec(), tags.to_vec());
            std::thread::spawn(move || {
                let event = |e: BuildEvent| {
                    let mut state = gate.state.lock().unwrap_or_else(|p| p.into_inner());
                    match e {
                        BuildEvent::Ready {
                            tag,
                            scenarios: ready,
                        } => {
                            for s in ready {
                                let cell = (scenarios[s].id.clone(), tags[tag].tag.clone());
                                state.ready.insert(cell);
                            }
                        }
                        BuildEvent::Doomed => state.doomed = true,
                    }
                    gate.changed.notify_all();
                };
                let result = builds.build(&scenarios, &tags, &event);
                let mut state = gate.state.lock().unwrap_or_else(|p| p.into_inner());
                state.ended = Some(result.as_ref().err().map(|e| format!("{e:#}")));
                gate.changed.notify_all();
                result
            })
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = backends
                .iter_mut()
                .map(|b| scope.spawn(|| b.start(scenarios)))
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("starting a backend panicked")))
            })
        })?;
        Ok(Self::with(backends, Some(gate), Versions::Building(thread)))
    }

    /// Waits until the cell's build is done (at once for a prepared pool); `Err` when the builds
    /// fail the run (an unknown tag), with their error.
    pub fn wait_ready(&self, scenario: &Scenario, tag: &ArgoTag) -> Result<(), String> {
        let Some(gate) = &self.builds else {
            return Ok(());
        };
        let cell = (scenario.id.clone(), tag.tag.clone());
        let mut state = gate.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &state.ended {
                Some(Some(e)) => return Err(e.clone()),
                Some(None) => return Ok(()),
                None if !state.doomed && state.ready.contains(&cell) => return Ok(()),
                None => {}
            }
            state = gate.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Per version, what was built (`Backend::prepare`'s answer), once every build has ended.
    pub fn versions(&self) -> anyhow::Result<TagInfos> {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *versions, Versions::Taken) {
            Versions::Prepared(v) => Ok(v),
            Versions::Building(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("building panicked"))),
            Versions::Taken => anyhow::bail!("the versions were taken already"),
        }
    }

    /// Runs one cell on the next free backend.
    pub fn run_cell(&self, scenario: &Scenario, tag: &ArgoTag) -> Cell {
        let mut lease = self.lease();
        run_cell(lease.backend(), scenario, tag)
    }

    /// Why the pool's backends cannot run the scenario, if they cannot (all are alike).
    pub fn not_applicable(&self, scenario: &Scenario) -> Option<String> {
        let mut lease = self.lease();
        lease.backend().not_applicable(scenario)
    }

    fn lease(&self) -> Lease<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(backend) = free.pop() {
                return Lease {
                    pool: self,
                    backend: Some(backend),
                };
            }
            free = self.returned.wait(free).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A backend out of the pool; it goes back on drop.
struct Lease<'a> {
    pool: &'a BackendPool,
    backend: Option<Boxed>,
}

impl Lease<'_> {
    fn backend(&mut self) -> &mut dyn Backend {
        self.backend
            .as_mut()
            .expect("leased until dropped")
            .as_mut()
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.backend.take() {
            let mut free = self.pool.free.lock().unwrap_or_else(|p| p.into_inner());
            free.push(b);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Component;
    use crate::shared::{Observation, TagInfo};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts how many cells run on it at once.
    struct Counting(Arc<(AtomicUsize, AtomicUsize)>);

    impl Backend for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn prepare(
            &mut self,
            _: &[ArgoTag],
            _: &[Component],
            _: &[Scenario],
        ) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>> {
            Ok(BTreeMap::new())
        }
        fn run(&mut self, _: &Scenario, _: &ArgoTag) -> Observation {
            let (now, most) = &*self.0;
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            now.fetch_sub(1, Ordering::SeqCst);
            Observation::not_applicable("counting", "measured".into())
        }
    }

    #[test]
    fn cells_never_share_a_backend_and_all_backends_are_used() {
        let counters: Vec<_> = (0..2).map(|_| Arc::new(Default::default())).collect();
        let backends = counters
            .iter()
            .map(|c| Box::new(Counting(Arc::clone(c))) as Boxed)
            .collect();
        let pool = BackendPool::new(backends);
        let scenario = crate::scenario::parse(
            std::path::Path::new("s3-static-keys.yaml"),
            include_str!("../../scenarios/s3-static-keys.yaml"),
        )
        .unwrap();
        let tag = ArgoTag::parse("v3.6.5").unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| pool.run_cell(&scenario, &tag));
            }
        });
        for c in &counters {
            assert_eq!(
                c.1.load(Ordering::SeqCst),
                1,
                "one cell at a time per backend"
            );
        }
        assert_eq!(
            pool.free.lock().unwrap().len(),
            2,
            "every backend came back"
        );
    }
}
