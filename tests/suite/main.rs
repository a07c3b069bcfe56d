//! The suite: everything but the matrix, in one binary (as ripgrep does).
//!
//! Tiers, by what a test needs (README's table has each module): `architecture`, `scenarios`,
//! `diff`, `providers`, `scan` (but its verdict test) need nothing; `fakes` the project's venv; `registry` skopeo and Go;
//! `sandbox` and the matrix-driven modules root or user namespaces, Go and the venv; everything
//! under `cluster_tier` the cluster builds of `make setup`, under `docker_tier` the container
//! engine (`make engine`) and root. `make test-local` runs all but those two, `make test-cluster`
//! runs them.

mod architecture;
mod canary;
mod cli;
mod cloud_faults;
mod cluster_tier;
mod decisions;
mod diff;
mod docker_tier;
mod fakes;
mod html;
mod leftovers;
mod providers;
mod registry;
mod sandbox;
mod scan;
mod scenarios;
mod util;
mod workflows;
