//! The one scheduler, for every backend, the CLI's commands and `cargo test --test matrix`: a
//! cell enters the queue as soon as what it needs is built (its tag's probe, its tag's
//! controller), the first backend starts without waiting for any build and the others when cells
//! wait that no started one is free to take, and the workers take the longest ready cell first,
//! waiting when the queue is empty but builds still run.

use super::{run_and_keep, timings};
use crate::backend::{Backend, BuildEvent, Builds, TagInfos};
use crate::report::{Cell, Report};
use crate::scenario::Scenario;
use crate::shared::{ArgoTag, CellId};
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The cells a run asks for: every scenario on every tag, or some of them (the matrix test's
/// filters). The scenarios and tags are what the builds are asked for.
pub struct Cells<'a> {
    pub scenarios: &'a [Scenario],
    pub tags: &'a [ArgoTag],
    only: Option<HashSet<CellId>>,
}

impl<'a> Cells<'a> {
    pub fn all(scenarios: &'a [Scenario], tags: &'a [ArgoTag]) -> Self {
        Cells {
            scenarios,
            tags,
            only: None,
        }
    }

    /// Only these cells of `scenarios` × `tags`.
    pub fn only(
        scenarios: &'a [Scenario],
        tags: &'a [ArgoTag],
        ids: impl IntoIterator<Item = CellId>,
    ) -> Self {
        Cells {
            only: Some(ids.into_iter().collect()),
            ..Cells::all(scenarios, tags)
        }
    }

    fn wants(&self, scenario: &Scenario, tag: &ArgoTag) -> bool {
        self.only
            .as_ref()
            .is_none_or(|ids| ids.contains(&CellId::new(scenario, tag)))
    }

    pub fn ids(&self) -> Vec<CellId> {
        self.scenarios
            .iter()
            .flat_map(|s| self.tags.iter().map(move |t| (s, t)))
            .filter(|(s, t)| self.wants(s, t))
            .map(|(s, t)| CellId::new(s, t))
            .collect()
    }
}

/// The builds every backend of the pool shares (one build per tag, whichever backend runs the
/// cell).
fn shared_builds(backends: &[Box<dyn Backend + Send>]) -> anyhow::Result<Arc<dyn Builds>> {
    let Some(first) = backends.first().map(|b| b.builds()) else {
        anyhow::bail!("no backend to run on")
    };
    let same =
        |b: &(dyn Backend + Send)| std::ptr::addr_eq(Arc::as_ptr(&b.builds()), Arc::as_ptr(&first));
    match backends.iter().all(|b| same(b.as_ref())) {
        true => Ok(first),
        false => anyhow::bail!("the backends of a run must share their builds"),
    }
}

/// At most `n` at once.
struct Semaphore {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Semaphore {
    fn new(n: usize) -> Self {
        Semaphore {
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        }
    }

    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        drop(free);
        // Given back even when `f` panics.
        struct Release<'a>(&'a Semaphore);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                *lock(&self.0.free) += 1;
                self.0.freed.notify_one();
            }
        }
        let _release = Release(self);
        f()
    }
}

/// A cell whose build is done.
struct ReadyCell<'a> {
    /// Its last run's time (`Timings::previous`).
    time: u64,
    /// The catalogue's order, reversed: among equal times the earlier cell is taken first.
    order: std::cmp::Reverse<usize>,
    scenario: &'a Scenario,
    tag: &'a ArgoTag,
    /// Its scenario needs a server of its own (`Backend::needs_own_server`).
    own_server: bool,
    /// Not applicable on these backends (`Backend::not_applicable`): judged at once, so it wants
    /// no sandbox started for it.
    instant: bool,
}

/// The cells ready to run, and whether more may come.
struct Queue<'a> {
    /// Shortest last-run time first, so that the longest is taken first (the catalogue's order
    /// among equals).
    ready: Vec<ReadyCell<'a>>,
    building: bool,
    /// Why no more cells start (the builds will fail the run, or a backend could not start).
    stopped: bool,
    /// Started backends waiting for a cell: all of them, and those among them that host the
    /// scenarios with a server of their own.
    idle: usize,
    idle_hosts: usize,
}

impl<'a> Queue<'a> {
    /// The longest ready cell a backend can run: one that hosts the scenarios with a server of
    /// their own runs those first (only it can), any other backend only the others.
    fn take(&mut self, hosts_own_servers: bool) -> Option<(&'a Scenario, &'a ArgoTag)> {
        let at = match hosts_own_servers {
            true => {
                (self.ready.iter().rposition(|c| c.own_server)).or(self.ready.len().checked_sub(1))
            }
            false => self.ready.iter().rposition(|c| !c.own_server),
        }?;
        let cell = self.ready.remove(at);
        Some((cell.scenario, cell.tag))
    }

    /// Whether a backend not started yet would find a ready cell that no started backend is free
    /// to take. Only then does it start while builds run: a sandbox started during the first
    /// build would take cores from it and wait idle.
    fn wants_another(&self, hosts_own_servers: bool) -> bool {
        let waiting = || self.ready.iter().filter(|c| !c.instant);
        let lean = waiting().filter(|c| !c.own_server).count();
        let all = waiting().count();
        match hosts_own_servers {
            true => all - lean > self.idle_hosts || all > self.idle,
            false => lean > self.idle,
        }
    }

    fn has_work_for(&self, hosts_own_servers: bool) -> bool {
        self.building
            || self
                .ready
                .iter()
                .any(|c| hosts_own_servers || !c.own_server)
    }
}

/// How many of `backends` start with the scenarios that need a server of their own: their share
/// of the cells, at least one when there are any. The others start without those servers
/// (MinIO: 12 of the default matrix's 186 cells, 0.43 CPU-seconds for each sandbox that starts
/// it, 2026-12-03).
fn own_server_hosts(own_server: &[bool], tags: usize, backends: usize) -> usize {
    let cells = own_server.iter().filter(|o| **o).count() * tags;
    let all = (own_server.len() * tags).max(1);
    match (cells, backends) {
        (0, _) | (_, 0) => 0,
        _ => (backends * cells).div_ceil(all).clamp(1, backends),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One run's shared state: the queue of ready cells, the cells done, why a backend could not start.
struct Run<'a> {
    wanted: &'a Cells<'a>,
    timings: &'a timings::Timings,
    on_cell: &'a (dyn Fn(&Cell) + Sync),
    /// Per scenario: it needs a server of its own (`Backend::needs_own_server`), it is not
    /// applicable on these backends (judged at once).
    own_server: Vec<bool>,
    instant: Vec<bool>,
    total: usize,
    queue: Mutex<Queue<'a>>,
    wake: Condvar,
    cells: Mutex<Vec<Cell>>,
    failed_start: Mutex<Option<anyhow::Error>>,
    /// Sandboxes start a core's worth at a time: starting one is CPU-bound (a Python and a MinIO
    /// server, the fakes' keys), so all at once they would all be ready late (8 at once on 2 busy
    /// cores: 11–12 s each, one alone 2.1 s, measured 2026-12-02); one by one, the first runs
    /// cells (mostly waiting ones, longest first) while the others start.
    starting: Semaphore,
}

impl<'a> Run<'a> {
    fn new(
        backends: &[Box<dyn Backend + Send>],
        wanted: &'a Cells<'a>,
        timings: &'a timings::Timings,
        on_cell: &'a (dyn Fn(&Cell) + Sync),
    ) -> Self {
        let (own_server, instant) = wanted
            .scenarios
            .iter()
            .map(|s| match backends.first() {
                Some(b) => (b.needs_own_server(s), b.not_applicable(s).is_some()),
                None => (false, false),
            })
            .unzip();
        let total = wanted.ids().len();
        Run {
            wanted,
            timings,
            on_cell,
            own_server,
            instant,
            total,
            queue: Mutex::new(Queue {
                ready: Vec::new(),
                building: true,
                stopped: false,
                idle: 0,
                idle_hosts: 0,
            }),
            wake: Condvar::new(),
            cells: Mutex::new(Vec::with_capacity(total)),
            failed_start: Mutex::new(None),
            starting: Semaphore::new(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            ),
        }
    }

    /// What the builds say: wanted cells become ready (longest first), or the run is doomed.
    fn heard(&self, event: BuildEvent) {
        let (scenarios, tags) = (self.wanted.scenarios, self.wanted.tags);
        let mut q = lock(&self.queue);
        match event {
            BuildEvent::Ready {
                tag,
                scenarios: ready,
            } => {
                for s in ready {
                    let (scenario, argo) = (&scenarios[s], &tags[tag]);
                    if !self.wanted.wants(scenario, argo) {
                        continue;
                    }
                    q.ready.push(ReadyCell {
                        time: self.timings.previous(&CellId::new(scenario, argo)),
                        order: std::cmp::Reverse(s * tags.len() + tag),
                        scenario,
                        tag: argo,
                        own_server: self.own_server[s],
                        instant: self.instant[s],
                    });
                }
                q.ready.sort_by_key(|c| (c.time, c.order));
            }
            BuildEvent::Doomed => q.stopped = true,
        }
        self.wake.notify_all();
    }

    /// Builds everything the wanted cells need, announcing cells as their builds end.
    fn build(&self, builds: &dyn Builds) -> anyhow::Result<TagInfos> {
        let (scenarios, tags) = (self.wanted.scenarios, self.wanted.tags);
        let wanted = |s: &Scenario, t: &ArgoTag| self.wanted.wants(s, t);
        let result = builds.build(scenarios, tags, &wanted, &|e| self.heard(e));
        let mut q = lock(&self.queue);
        q.building = false;
        q.stopped |= result.is_err();
        self.wake.notify_all();
        result
    }

    /// One backend's life: it starts (the first at once, to be ready when the first build is; the
    /// others when ready cells find no started backend free), then runs cells until none is left.
    /// A `host` also runs the scenarios with a server of their own; it was started with `serves`.
    fn work(&self, first: bool, backend: &mut dyn Backend, host: bool, serves: &[Scenario]) {
        if !first {
            let mut q = lock(&self.queue);
            while !q.stopped && q.has_work_for(host) && !q.wants_another(host) {
                q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        }
        let started = self.starting.run(|| {
            // No sandbox for a run whose cells are all taken by the time its turn comes.
            let q = lock(&self.queue);
            if q.stopped || !q.has_work_for(host) {
                return None;
            }
            drop(q);
            Some(backend.start(serves))
        });
        match started {
            None => return,
            Some(Err(e)) => {
                lock(&self.failed_start).get_or_insert(e);
                lock(&self.queue).stopped = true;
                self.wake.notify_all();
                return;
            }
            Some(Ok(())) => {}
        }
        while let Some((scenario, tag)) = self.next(host) {
            let cell = run_and_keep(
                backend,
                scenario,
                tag,
                self.timings,
                &self.cells,
                self.total,
            );
            (self.on_cell)(&cell);
        }
    }

    /// The next cell for a started backend, waiting while builds run; `None` when there is none.
    fn next(&self, host: bool) -> Option<(&'a Scenario, &'a ArgoTag)> {
        let mut q = lock(&self.queue);
        loop {
            if q.stopped {
                return None;
            }
            if let Some(cell) = q.take(host) {
                // Those not started yet see one cell less waiting.
                self.wake.notify_all();
                return Some(cell);
            }
            if !q.building {
                return None;
            }
            q.idle += 1;
            q.idle_hosts += usize::from(host);
            q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            q.idle -= 1;
            q.idle_hosts -= usize::from(host);
        }
    }
}

/// Runs `wanted` on `backends`, each cell as soon as its build (shared by all of them) is done,
/// the longest (by `timings`) first among the ready ones; `on_cell` hears of each cell as it ends.
pub fn run(
    backends: &mut [Box<dyn Backend + Send>],
    wanted: &Cells,
    timings: &timings::Timings,
    on_cell: &(dyn Fn(&Cell) + Sync),
) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let builds = shared_builds(backends)?;
    let run = Run::new(backends, wanted, timings, on_cell);
    let hosts = own_server_hosts(&run.own_server, wanted.tags.len(), backends.len());
    // The last backends to start host them: the first ones take the longest cells.
    let first_host = backends.len() - hosts;
    let lean: Vec<Scenario> = (wanted.scenarios.iter().zip(&run.own_server))
        .filter(|(_, own)| !**own)
        .map(|(s, _)| s.clone())
        .collect();
    crate::progress::start_cells(run.total);
    let built = std::thread::scope(|scope| {
        let run = &run;
        let builder = scope.spawn(move || run.build(builds.as_ref()));
        for (i, backend) in backends.iter_mut().enumerate() {
            let host = i >= first_host;
            let serves = if host { wanted.scenarios } else { &lean[..] };
            scope.spawn(move || run.work(i == 0, backend.as_mut(), host, serves));
        }
        builder
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("building panicked")))
    });
    crate::progress::finish_cells();
    let tag_info = built?;
    if let Some(e) = run
        .failed_start
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        return Err(e);
    }
    let cells = run.cells.into_inner().unwrap_or_else(|p| p.into_inner());
    let first = backends.first();
    let name = first.map(|b| b.name()).unwrap_or_default();
    let provider = first.and_then(|b| b.provider());
    Ok(Report::new(
        (name, provider),
        wanted.scenarios,
        wanted.tags,
        tag_info,
        cells,
        started.elapsed(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::TagInfos;
    use crate::scenario::Component;
    use crate::shared::{Observation, TagInfo};
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    /// Announces the first tag's cells after `first_after`, the second's a while later (when,
    /// in `second_built`).
    struct SlowSecondTag {
        first_after: Duration,
        second_built: Mutex<Option<Instant>>,
    }

    impl Builds for SlowSecondTag {
        fn build(
            &self,
            scenarios: &[Scenario],
            tags: &[ArgoTag],
            _: crate::builds::Wanted,
            event: &(dyn Fn(BuildEvent) + Sync),
        ) -> anyhow::Result<TagInfos> {
            let all: Vec<usize> = (0..scenarios.len()).collect();
            std::thread::sleep(self.first_after);
            event(BuildEvent::Ready {
                tag: 0,
                scenarios: all.clone(),
            });
            std::thread::sleep(Duration::from_millis(300));
            *lock(&self.second_built) = Some(Instant::now());
            event(BuildEvent::Ready {
                tag: 1,
                scenarios: all,
            });
            Ok(tags
                .iter()
                .map(|t| {
                    let info = BTreeMap::from([(Component::ExecutorS3, TagInfo::default())]);
                    (t.tag.clone(), info)
                })
                .collect())
        }
    }

    /// A cell as a [`Recording`] backend ran it: which backend, the scenario, the tag, when.
    type Ran = (usize, String, String, Instant);

    /// Shares its builds; remembers what it was started with and every cell it ran. `minio-*`
    /// scenarios need a server of their own.
    struct Recording {
        builds: Arc<SlowSecondTag>,
        id: usize,
        /// (backend, scenario) for every scenario a backend was started with.
        started: Arc<Mutex<Vec<(usize, String)>>>,
        ran: Arc<Mutex<Vec<Ran>>>,
    }

    impl Backend for Recording {
        fn name(&self) -> &'static str {
            "recording"
        }
        fn run(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Observation {
            let cell = (
                self.id,
                scenario.id.clone(),
                tag.tag.clone(),
                Instant::now(),
            );
            lock(&self.ran).push(cell);
            Observation::not_applicable("recording", "ran".into())
        }
        fn builds(&self) -> Arc<dyn Builds> {
            Arc::clone(&self.builds) as Arc<dyn Builds>
        }
        fn start(&mut self, scenarios: &[Scenario]) -> anyhow::Result<()> {
            let mut started = lock(&self.started);
            started.extend(scenarios.iter().map(|s| (self.id, s.id.clone())));
            Ok(())
        }
        fn needs_own_server(&self, scenario: &Scenario) -> bool {
            scenario.id.starts_with("minio-")
        }
    }

    /// `n` recording backends sharing one slow build (its first tag ready after `first_after`);
    /// what they were started with and ran.
    fn recording(
        n: usize,
        first_after: Duration,
    ) -> (
        RecordingPool,
        Arc<SlowSecondTag>,
        Started,
        Arc<Mutex<Vec<Ran>>>,
    ) {
        let builds = Arc::new(SlowSecondTag {
            first_after,
            second_built: Mutex::new(None),
        });
        let (started, ran) = (Started::default(), Arc::<Mutex<Vec<Ran>>>::default());
        let backends = (0..n)
            .map(|id| {
                Box::new(Recording {
                    builds: Arc::clone(&builds),
                    id,
                    started: Arc::clone(&started),
                    ran: Arc::clone(&ran),
                }) as _
            })
            .collect();
        (backends, builds, started, ran)
    }

    type RecordingPool = Vec<Box<dyn Backend + Send>>;
    type Started = Arc<Mutex<Vec<(usize, String)>>>;

    /// Catalogue scenarios by file name.
    fn scenarios(names: &[&str]) -> Vec<Scenario> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        names
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(dir.join(n)).unwrap();
                crate::scenario::parse(std::path::Path::new(n), &text).unwrap()
            })
            .collect()
    }

    /// Streams every cell on the pool, with no previous timings.
    fn run_all(
        backends: &mut RecordingPool,
        scenarios: &[Scenario],
        tags: &[ArgoTag],
    ) -> anyhow::Result<Report> {
        let cache = tempfile::tempdir().unwrap();
        let timings = timings::Timings::load(cache.path(), "recording");
        run(backends, &Cells::all(scenarios, tags), &timings, &|_| {})
    }

    #[test]
    fn a_tags_cells_run_while_another_tag_builds_and_the_report_has_every_cell() {
        let (mut backends, builds, _, ran) = recording(2, Duration::ZERO);
        let tags = ArgoTag::parse_list("v3.5.11,v3.6.5").unwrap();
        let report = run_all(&mut backends, &scenarios(&["s3-static-keys.yaml"]), &tags).unwrap();
        assert_eq!(report.cells.len(), 2);
        assert_eq!(report.versions.len(), 2);
        let second_built = lock(&builds.second_built).expect("built");
        let ran = lock(&ran);
        let first = ran.iter().find(|c| c.2 == "v3.5.11").expect("ran");
        assert!(first.3 < second_built, "v3.5.11 ran while v3.6.5 built");
    }

    #[test]
    fn only_the_wanted_cells_run_and_each_is_heard_of_once() {
        let (mut backends, _, _, ran) = recording(2, Duration::ZERO);
        let scenarios = scenarios(&["s3-static-keys.yaml", "minio-static-keys.yaml"]);
        let tags = ArgoTag::parse_list("v3.5.11,v3.6.5").unwrap();
        let wanted = Cells::only(&scenarios, &tags, [CellId::new(&scenarios[1], &tags[0])]);
        let cache = tempfile::tempdir().unwrap();
        let timings = timings::Timings::load(cache.path(), "recording");
        let heard = Mutex::new(Vec::new());
        let report = run(&mut backends, &wanted, &timings, &|c| {
            lock(&heard).push(c.id.to_string())
        })
        .unwrap();
        assert_eq!(lock(&heard).as_slice(), ["minio-static-keys::v3.5.11"]);
        assert_eq!(report.cells.len(), 1);
        assert_eq!(lock(&ran).len(), 1);
    }

    #[test]
    fn only_a_share_of_the_backends_starts_a_server_of_its_own_and_runs_its_cells() {
        let (mut backends, _, started, ran) = recording(3, Duration::ZERO);
        let scenarios = scenarios(&["s3-static-keys.yaml", "minio-static-keys.yaml"]);
        let tags = ArgoTag::parse_list("v3.5.11,v3.6.5").unwrap();
        let report = run_all(&mut backends, &scenarios, &tags);
        assert_eq!(report.unwrap().cells.len(), 4);
        // 2 of 4 cells need MinIO: 2 of 3 backends (their share, rounded up), the last two.
        let on_minio = |cells: Vec<(usize, &String)>| -> Vec<usize> {
            let mut ids: Vec<usize> = cells
                .into_iter()
                .filter(|(_, s)| s.starts_with("minio-"))
                .map(|(id, _)| id)
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let started = lock(&started);
        let ran = lock(&ran);
        let hosts = on_minio(started.iter().map(|(id, s)| (*id, s)).collect());
        // Only the last two may host (a backend that finds no cell left does not start at all).
        assert!(
            !hosts.is_empty() && hosts.iter().all(|id| *id >= 1),
            "started with MinIO: {started:?}"
        );
        let ran_on = on_minio(ran.iter().map(|c| (c.0, &c.1)).collect());
        assert!(ran_on.iter().all(|id| hosts.contains(id)), "{ran:?}");
        assert_eq!(ran.len(), 4);
    }

    #[test]
    fn a_backend_starts_only_when_a_ready_cell_finds_no_started_backend_free() {
        // The first backend takes each cell the moment it is ready: the others never start.
        let (mut backends, _, started, ran) = recording(3, Duration::from_millis(500));
        let tags = ArgoTag::parse_list("v3.5.11,v3.6.5").unwrap();
        run_all(&mut backends, &scenarios(&["s3-static-keys.yaml"]), &tags).unwrap();
        assert_eq!(lock(&ran).len(), 2);
        let started: Vec<usize> = lock(&started).iter().map(|(id, _)| *id).collect();
        assert_eq!(started, [0], "started: {started:?}");
    }

    #[test]
    fn another_backend_is_wanted_for_the_cells_the_idle_ones_cannot_take() {
        let s = scenarios(&["s3-static-keys.yaml", "minio-static-keys.yaml"]);
        let tag = &ArgoTag::parse_list("v3.5.11").unwrap()[0];
        let cell = |scenario, own_server| ReadyCell {
            time: 0,
            order: std::cmp::Reverse(0),
            scenario,
            tag,
            own_server,
            instant: false,
        };
        let queue = |ready, idle, idle_hosts| Queue {
            ready,
            building: true,
            stopped: false,
            idle,
            idle_hosts,
        };
        // Nothing ready: nothing wanted.
        assert!(!queue(vec![], 0, 0).wants_another(false));
        // One cell, one idle backend: it takes it.
        assert!(!queue(vec![cell(&s[0], false)], 1, 0).wants_another(false));
        // Two cells, one idle backend: one more.
        let two = || vec![cell(&s[0], false), cell(&s[0], false)];
        assert!(queue(two(), 1, 0).wants_another(false));
        // A MinIO cell and an idle backend without MinIO: a host is wanted, not another lean one.
        assert!(queue(vec![cell(&s[1], true)], 1, 0).wants_another(true));
        assert!(!queue(vec![cell(&s[1], true)], 1, 0).wants_another(false));
        assert!(!queue(vec![cell(&s[1], true)], 1, 1).wants_another(true));
        // Cells judged at once (not applicable here) want no backend started for them.
        let instant = || ReadyCell {
            instant: true,
            ..cell(&s[0], false)
        };
        assert!(!queue(vec![instant(), instant()], 0, 0).wants_another(false));
        assert!(queue(vec![instant(), cell(&s[0], false)], 0, 0).wants_another(false));
    }

    #[test]
    fn the_hosts_are_the_cells_share_of_the_backends_and_at_least_one() {
        // The default matrix: 2 of 31 scenarios keep their bucket in MinIO.
        let mut own = vec![false; 31];
        own[0] = true;
        own[1] = true;
        assert_eq!(own_server_hosts(&own, 6, 9), 1);
        assert_eq!(own_server_hosts(&own, 6, 1), 1);
        assert_eq!(own_server_hosts(&[false, false], 6, 9), 0);
        assert_eq!(own_server_hosts(&[true, true], 6, 9), 9);
        assert_eq!(own_server_hosts(&[true, false], 1, 3), 2);
        assert_eq!(own_server_hosts(&[true, false], 1, 0), 0);
    }
}
