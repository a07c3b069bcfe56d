//! Scenario catalogue: YAML files in `scenarios/`, loaded into validated [`Scenario`]s.

mod load;
mod model;
pub mod range;

pub use load::{LoadError, load_dir, parse};
pub use model::*;
