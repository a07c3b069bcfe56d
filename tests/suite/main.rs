//! The suite: everything but the matrix, in one binary (as ripgrep does).
//!
//! Tiers: `scenarios` and `report` need nothing; `fakes` needs the project's Python venv (moto,
//! boto3: `make setup`); `sandbox` needs root or user namespaces.

mod architecture;
mod canary;
mod cli;
mod cloud_faults;
mod cluster;
mod decisions;
mod diff;
mod fakes;
mod html;
mod minio;
mod registry;
mod sandbox;
mod scenarios;
mod util;
mod workflows;
