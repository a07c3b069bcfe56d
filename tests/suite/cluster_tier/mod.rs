//! The tests that need `make setup`'s cluster builds (Kubernetes, etcd, Argo's controllers and
//! argoexec, MinIO): `make test-cluster` runs them (`cargo test -- cluster_tier::`), and
//! `make test-local` runs everything else. Nothing outside this module needs those builds. A plain
//! `cargo test` skips these tests while the builds are absent (tiers `cluster`, `minio`).

mod cluster;
mod minio;
mod scan;
