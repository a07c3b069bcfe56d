//! What the fakes saw: one line per request, kept as evidence for the cell that caused it.

use crate::shared::Event;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<Event>>>);

impl EventLog {
    pub fn push(&self, fake: &str, request: String, status: u16, detail: impl Into<String>) {
        let event = Event {
            fake: fake.to_string(),
            request,
            status,
            detail: detail.into(),
            infra: false,
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }

    /// Records a failure of the fake cloud itself (no status: nothing was answered).
    pub fn push_infra(&self, fake: &str, request: String, detail: impl Into<String>) {
        let event = Event {
            fake: fake.to_string(),
            request,
            status: 0,
            detail: detail.into(),
            infra: true,
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }

    /// Returns and forgets everything recorded so far.
    pub fn drain(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A request id in AWS's UUID shape; unique within a run.
pub fn request_id() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = hex::encode(Sha256::digest(format!(
        "{n}-{nanos}-{}",
        std::process::id()
    )));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
