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
