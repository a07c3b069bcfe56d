//! Scenario catalogue: YAML files in `scenarios/`, loaded into validated [`Scenario`]s.

mod load;
mod model;
pub mod range;

pub use load::{LoadError, load_dir, parse};
pub use model::*;

/// The components these scenarios exercise, each once, in order.
pub fn components_of(scenarios: &[Scenario]) -> Vec<Component> {
    let mut components: Vec<_> = scenarios.iter().map(|s| s.component).collect();
    components.sort();
    components.dedup();
    components
}

/// The catalogue in `dir`, or the project's `scenarios/`.
pub fn load_catalogue(dir: Option<&std::path::Path>) -> Result<Vec<Scenario>, LoadError> {
    let dir = dir.map_or_else(|| crate::project_root().join("scenarios"), |d| d.to_path_buf());
    load_dir(&dir)
}
