//! The suite: everything but the matrix, in one binary (as ripgrep does).
//!
//! Tiers, by what a test needs beyond a fresh clone (`tier::Tier`, checked at run time; README's
//! table has each module):
//! - nothing: `architecture`, `scenarios`, `diff`, `providers`, `scan` (but its verdict test),
//!   `cli`, `workflows`' make check;
//! - `go`, Go on PATH: the registry's conformance suite;
//! - `venv`, the project's venv (`make venv`, part of `make setup-local`): `fakes`;
//! - `sandbox`, root or user namespaces and `ip` (`make setup-local`): `sandbox`;
//! - `user-namespaces` for an unprivileged user (`make host`): the rootless sandbox test;
//! - `probes`, the default tags' probes built (`make probes`): every test that runs
//!   `authmatrix run` on the local backend (`canary`, `cloud_faults`, `decisions`, `scan`'s
//!   verdict test, `workflows`' steps, `sandbox`'s Ctrl-C), with the venv and a sandbox: on a
//!   fresh clone they would first compile every probe (some 20 minutes of Go);
//! - `skopeo`, `chromium` (`make apt-test`): `registry`, `html`;
//! - `actionlint` (`make actionlint`): `workflows`' lint test;
//! - `cluster` (`make cluster`), `minio` (`make minio`): `cluster_tier`;
//! - `engine` (`make engine`), `kind` (`make kind-node`): `docker_tier`.
//!
//! A plain `cargo test` skips the tests of an absent tier and names each such tier once on
//! stderr (`authmatrix: tier cluster skipped: needs ...`). `make test` (its targets set
//! `AUTHMATRIX_TIERS=required`) skips nothing: a missing piece fails. `make test-local` runs all
//! but `cluster_tier` and `docker_tier`; `make test-cluster` runs those but `docker_tier::kind`,
//! which `make test-kind` runs.

/// Returns from the test unless every tier named is there (or `AUTHMATRIX_TIERS=required`):
/// `require!(Venv, Sandbox)`.
macro_rules! require {
    ($($tier:ident),+ $(,)?) => {
        if !crate::tier::runs(&[$(crate::tier::Tier::$tier),+]) {
            return;
        }
    };
}

/// What `authmatrix run` on the local backend needs: `require_local_run!()`.
macro_rules! require_local_run {
    () => {
        if !crate::tier::runs(crate::tier::LOCAL_RUN) {
            return;
        }
    };
}

#[path = "../common/tiers.rs"]
mod tier;

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
