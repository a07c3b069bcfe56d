//! The types every room shares: Argo versions, what a cell showed, what a version was built from.
//! The lowest room but `scenario`: it imports nothing else of the crate, so `report`, `decision`
//! and the backends can all use it without knowing each other.

pub mod cell;
pub mod encoding;
pub mod observation;
pub mod tags;
pub mod versions;

pub use cell::CellId;
pub use observation::{ArgoLog, Event, Evidence, Exposure, Observation, ObservedOutcome};
pub use tags::ArgoTag;
pub use versions::{KEY_MODULES, TagInfo};
