//! When the fake cloud itself fails, the cell must say so — `infra-error`, with the cause in its
//! evidence — and never pass for Argo's behaviour. A fake notices its own failures and records them
//! as *infra* events: moto exiting, a client hanging up before a fake answered (it waited past its
//! timeout), a connection closed without an answer, a stall. Faults can also be injected (the
//! fault script, `benches/faults.rs`, and the suite do) to prove that the harness notices.

use super::events::EventLog;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A failure of the fake cloud to inject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// moto (S3, IAM) is killed: every later request to it is refused.
    KillS3,
    /// The Pod Identity agent waits this long before each answer.
    StallAgent { ms: u64 },
    /// Every registry accepts connections and closes them without a word.
    RegistryClosesConnections,
}

impl Fault {
    /// `kill-s3`, `stall-agent:<ms>`, `registry-closes-connections` (AUTHMATRIX_FAULT's values).
    pub fn parse(text: &str) -> Result<Fault, String> {
        match text.split_once(':') {
            None if text == "kill-s3" => Ok(Fault::KillS3),
            None if text == "registry-closes-connections" => Ok(Fault::RegistryClosesConnections),
            Some(("stall-agent", ms)) => ms
                .parse()
                .map(|ms| Fault::StallAgent { ms })
                .map_err(|_| format!("stall-agent:<milliseconds>, not `{text}`")),
            _ => Err(format!(
                "unknown fault `{text}`: kill-s3, stall-agent:<ms> or registry-closes-connections"
            )),
        }
    }
}

/// The fault in force, shared by the fakes of one sandbox.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Option<Fault>>>);

impl Faults {
    pub fn set(&self, fault: Option<Fault>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    pub fn current(&self) -> Option<Fault> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether a registry should close this connection unanswered (and records that it did).
    pub fn registry_closes(&self, label: &str, events: &EventLog) -> bool {
        let closes = self.current() == Some(Fault::RegistryClosesConnections);
        if closes {
            events.push_infra(
                label,
                "(connection)".into(),
                "closed the connection without answering (injected fault)",
            );
        }
        closes
    }
}

/// What [`watch`] needs: the fake's name, where events go, the faults in force.
#[derive(Clone)]
pub struct Watch {
    pub label: String,
    pub events: EventLog,
    pub faults: Faults,
    /// Whether injected stalls apply to this fake (the Pod Identity agent's).
    pub stalls: bool,
}

/// Middleware for a fake's router: applies an injected stall, and records an infra event when the
/// client hangs up before the fake answered — then the client gave up on the fake, whatever the
/// scenario was about.
pub async fn watch(State(w): State<Watch>, request: Request, next: Next) -> Response {
    let what = format!("{} {}", request.method(), request.uri().path());
    let mut guard = HangUp {
        watch: w.clone(),
        what: what.clone(),
        started: Instant::now(),
        answered: false,
    };
    if let (true, Some(Fault::StallAgent { ms })) = (w.stalls, w.faults.current()) {
        w.events.push_infra(
            &w.label,
            what,
            format!("stalled {ms} ms before answering (injected fault)"),
        );
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let response = next.run(request).await;
    guard.answered = true;
    response
}

/// Dropped unanswered = the connection went away while the fake was still working on the request.
struct HangUp {
    watch: Watch,
    what: String,
    started: Instant,
    answered: bool,
}

impl Drop for HangUp {
    fn drop(&mut self) {
        if !self.answered {
            self.watch.events.push_infra(
                &self.watch.label,
                self.what.clone(),
                format!(
                    "the client hung up after {} ms, before the fake answered",
                    self.started.elapsed().as_millis()
                ),
            );
        }
    }
}

/// The harness's reading of a cell's events: the first infra event, as the cell's message.
pub fn infra_failure(events: &[crate::shared::Event]) -> Option<String> {
    events.iter().find(|e| e.infra).map(|e| {
        format!(
            "the fake cloud failed, not Argo: {} {}: {}",
            e.fake, e.request, e.detail
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_their_names() {
        assert_eq!(Fault::parse("kill-s3"), Ok(Fault::KillS3));
        assert_eq!(
            Fault::parse("stall-agent:1500"),
            Ok(Fault::StallAgent { ms: 1500 })
        );
        assert!(Fault::parse("stall-agent:soon").is_err());
        assert!(Fault::parse("flood").unwrap_err().contains("kill-s3"));
    }

    #[test]
    fn only_infra_events_make_an_infra_failure() {
        let log = EventLog::default();
        log.push("sts", "POST /".into(), 403, "AccessDenied");
        assert_eq!(infra_failure(&log.drain()), None);
        log.push("sts", "POST /".into(), 403, "AccessDenied");
        log.push_infra("s3 (moto)", "(process)".into(), "exited");
        let why = infra_failure(&log.drain()).unwrap();
        assert!(why.contains("s3 (moto)") && why.contains("exited"), "{why}");
    }
}
