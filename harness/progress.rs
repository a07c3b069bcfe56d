//! Progress on stderr, so stdout stays the matrix: on a terminal a bar (cells done/total, elapsed,
//! the probes still building, the last cell); in CI (or when stderr is not a terminal) plain lines,
//! one per event. Cells run while probes build, so each side shows the other: a cell's line says
//! which builds are running, a build's heartbeat line how many cells are done.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// What runs now: cells (done, total) once counted, and the builds under way.
static STATE: Mutex<State> = Mutex::new(State {
    cells: None,
    building: Vec::new(),
});

struct State {
    cells: Option<(usize, usize)>,
    building: Vec<String>,
}

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

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
    state().cells = Some((0, total));
    if !interactive() {
        return;
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cells, {elapsed}{prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(building_text(&state().building));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    *BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
}

/// `; building s3@v3.6.5, entrypoint@v3.6.5` while builds run, else nothing.
fn building_text(building: &[String]) -> String {
    match building {
        [] => String::new(),
        b => format!("; building {}", b.join(", ")),
    }
}

/// A build (`s3@v3.6.5`) started or finished: the bar shows the builds running.
pub fn build_running(label: &str, running: bool) {
    let text = {
        let mut s = state();
        match running {
            true => s.building.push(label.to_string()),
            false => s.building.retain(|l| l != label),
        }
        building_text(&s.building)
    };
    if let Some(bar) = &*BAR.lock().unwrap_or_else(|p| p.into_inner()) {
        bar.set_prefix(text);
    }
}

/// `cells: 37/189 done` once cells are counted (for the builds' heartbeat lines).
pub fn cells_text() -> Option<String> {
    state()
        .cells
        .map(|(done, total)| format!("cells: {done}/{total} done"))
}

/// One cell finished.
pub fn cell_done(done: usize, total: usize, name: &str, verdict: &str) {
    let building = {
        let mut s = state();
        s.cells = Some((done, total));
        building_text(&s.building)
    };
    match &*BAR.lock().unwrap_or_else(|p| p.into_inner()) {
        Some(bar) => {
            bar.set_position(done as u64);
            bar.set_message(format!("{name} {verdict}"));
        }
        None => eprintln!("authmatrix: [{done}/{total}] {name} {verdict}{building}"),
    }
}

pub fn finish_cells() {
    state().cells = None;
    if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
}
