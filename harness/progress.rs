//! Progress on stderr, so stdout stays the matrix: on a terminal a bar (cells done/total, elapsed,
//! the last cell); in CI (or when stderr is not a terminal) plain lines, one per event.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// A message that stays (a probe built, a sandbox ready).
pub fn line(msg: &str) {
    match &*BAR.lock().unwrap_or_else(|p| p.into_inner()) {
        Some(bar) => bar.println(format!("authmatrix: {msg}")),
        None => eprintln!("authmatrix: {msg}"),
    }
}

/// Starts counting `total` cells.
pub fn start_cells(total: usize) {
    if !interactive() {
        return;
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cells, {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    *BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
}

/// One cell finished.
pub fn cell_done(done: usize, total: usize, name: &str, verdict: &str) {
    match &*BAR.lock().unwrap_or_else(|p| p.into_inner()) {
        Some(bar) => {
            bar.set_position(done as u64);
            bar.set_message(format!("{name} {verdict}"));
        }
        None => eprintln!("authmatrix: [{done}/{total}] {name} {verdict}"),
    }
}

pub fn finish_cells() {
    if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
}
