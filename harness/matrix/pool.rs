//! Backends shared by whoever runs cells one at a time from many threads (the matrix test's
//! trials): a cell takes a free backend, waits when all are busy, and gives it back even when
//! the cell panics.

use super::run_cell;
use crate::backend::Backend;
use crate::report::Cell;
use crate::scenario::Scenario;
use crate::shared::ArgoTag;
use std::sync::{Condvar, Mutex};

type Boxed = Box<dyn Backend + Send>;

pub struct BackendPool {
    free: Mutex<Vec<Boxed>>,
    returned: Condvar,
}

impl BackendPool {
    /// A pool of prepared backends (`matrix::prepare`).
    pub fn new(backends: Vec<Boxed>) -> Self {
        assert!(!backends.is_empty(), "a pool has backends");
        BackendPool {
            free: Mutex::new(backends),
            returned: Condvar::new(),
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
    use std::sync::Arc;
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
