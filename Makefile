# authmatrix: `make setup` once on a fresh machine, then `make test`.
# The local tier alone (the local backend and its tests): `make setup-local`, then `make test-local`.
# A first result soonest: `make setup-local`, then `target/debug/authmatrix run`: the probes build
# as the run needs them, and each tag's cells start as soon as its probes are built.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
# How the targets below run authmatrix: the CLI cargo builds (`make cli`); the tests' build (`make
# build`) reuses every crate of it (Cargo.toml: resolver 1). Tests point AUTHMATRIX at the binary
# cargo built for them.
BIN := $(or $(CARGO_TARGET_DIR),target)/debug/authmatrix
AUTHMATRIX ?= $(BIN)
# What a target that runs authmatrix needs first: the CLI, unless AUTHMATRIX is another binary.
built := $(if $(filter $(BIN),$(AUTHMATRIX)),cli)
# The build `authmatrix run` starts first: the entrypoint probe of the first default tag
# (harness/shared/tags.rs). `make setup-local` downloads only its modules, so that its compile
# starts at once and the other tags' downloads come while it runs.
FIRST_PROBE_SUMS := probes/entrypoint/sums/v3.5.11.sum
CACHE ?= $(or $(AUTHMATRIX_CACHE),$(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME)/authmatrix),$(HOME)/.cache/authmatrix)
# The local tier's packages: what `authmatrix run` needs (qemu-user-static runs the probe of a
# controller on arm64), then the real clients only its tests use (skopeo, chromium, shellcheck);
# then the cluster tier's (a node's container runtime; libseccomp-dev for the engine's runc).
APT_RUN := iproute2 ca-certificates busybox-static qemu-user-static
APT_TEST := skopeo chromium shellcheck
APT_LOCAL := $(APT_RUN) $(APT_TEST)
APT_CLUSTER := containerd runc containernetworking-plugins libseccomp-dev
# What tools/kind-node/build.sh needs beside them (debootstrap makes the node's Debian rootfs).
APT_KIND := debootstrap jq busybox-static containerd
# The cluster tier: Argo tags whose workflow-controller runs against the local-up cluster in `make test`:
# before the 3.6 regressions (executor RBAC, ECR 401), on them, and the newest 4.0. v3.6.5 left the
# tier to keep a fresh CI run within 60 minutes: on the cluster it behaved as v4.0.5 on every cell
# both ran, by outcome (27 scenarios, 2026-12-02); `--backend cluster --argo v3.6.5` runs it.
CLUSTER_TAGS ?= v3.5.11,v3.6.0,v4.0.5
# Tags for `make probes` (empty: authmatrix's default tags).
ARGO ?=
# The default tags, as harness/shared/tags.rs has them.
comma := ,
space := $(subst ,, )
DEFAULT_TAGS := $(shell sed -n 's/^pub const DEFAULT_TAGS.*= &\[\(.*\)\];/\1/p' harness/shared/tags.rs | tr -d '" ')
# The scenario whose controller runs on another CPU (arm64, its probe run under qemu). Each tag's
# arm64 probe is a cold compile of its own (Go's build cache shares nothing with the amd64 builds:
# 6 of them were a third of `make probes`), and its expectation changes once, at 4.0.0 (regression
# 16258). CI judges it at that edge among the default tags, on the last 3.x tag (passes) and the
# first 4.0 tag (fails): `make probes` builds and `make test-local` runs its cells on EMULATED_TAGS
# only. `authmatrix run`, `make bench` and the nightly workflow run it on every tag.
EMULATED := entrypoint-index-other-arch
EMULATED_TAGS := v3.7.18,v4.0.5
NATIVE_SCENARIOS := $(subst $(space),$(comma),$(filter-out $(EMULATED),$(basename $(notdir $(wildcard scenarios/*.yaml)))))
EMULATED_SKIPS := $(foreach t,$(filter-out $(subst $(comma),$(space),$(EMULATED_TAGS)),$(subst $(comma),$(space),$(DEFAULT_TAGS))),--skip $(EMULATED)::$(t))
# The nightly workflow's tags: the default tags and the newest 3.6 patch the Go module proxy serves.
NIGHTLY_ARGO := v3.5.11,v3.5.12,v3.6.0,v3.6.2,v3.6.4,v3.6.5,v3.6.18,v3.7.18,v4.0.5
OUT ?= out
PREVIOUS ?= previous
# The version a tool's wrapper module (tools/<tool>/go.mod) requires of a module: $(call module_version,<module>,<go.mod>).
module_version = $(shell awk '$$1 == "$(1)" {print $$2}' $(2))
# Every Go build here: the compiler emits no DWARF (a tenth of the compile time on two cores; the
# binaries are linked with -s -w, which drops it anyway), as the harness' own builds (harness/builds/go.rs NO_DWARF).
GO_NO_DWARF := -gcflags=all=-dwarf=false
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(CACHE)/tools/actionlint-$(ACTIONLINT_VERSION)

.PHONY: setup setup-local apt apt-local apt-run apt-test apt-engine apt-kind kind-node test-kind host venv cli build go-modules engine probes cluster minio actionlint \
	lint-workflows \
	test test-local test-cluster bench faults scenarios clean \
	setup-local-nightly nightly previous-report nightly-diff upgrade-gate

# Everything up front, for CI: the local tier, then every default probe, the cluster tier, MinIO,
# the container engine, actionlint and kind's node image side by side (each downloads its modules
# while another compiles). The node image waits for the cluster tier: it links the same Kubernetes
# and etcd, whose packages the cluster tier's build has then compiled into the Go build cache.
setup: apt
	$(MAKE) --no-print-directory setup-local
	$(MAKE) --no-print-directory -j3 probes cluster minio engine actionlint kind-node KIND_NODE_AFTER=cluster
# Four things side by side: the apt packages `authmatrix run` needs, the venv, the Go modules of
# the first probe the run builds (all three network-bound) and the CLI's cargo build. No probes:
# `authmatrix run` builds them as its cells need them and runs each tag's cells as soon as they
# are built; `make probes` builds them all up front (`make test-local` and `make setup` do). The
# tests' apt packages, their cargo build and actionlint come with `make test-local`. Everything
# here is CPU the first result waits for, on 2 cores (README, issue 18).
setup-local:
	$(MAKE) --no-print-directory -j4 apt-run venv go-modules cli GO_MODULE_SUMS="$(FIRST_PROBE_SUMS)"

apt: APT_PACKAGES = $(APT_LOCAL) $(APT_CLUSTER) $(APT_KIND)
apt-local: APT_PACKAGES = $(APT_LOCAL)
apt-run: APT_PACKAGES = $(APT_RUN)
apt-test: APT_PACKAGES = $(APT_TEST)
apt-engine: APT_PACKAGES = libseccomp-dev
apt-kind: APT_PACKAGES = $(APT_KIND)
apt apt-local apt-run apt-test apt-engine apt-kind:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	  else echo "install as root: apt-get install$$missing"; exit 1; fi; \
	fi
	@command -v go >/dev/null || { echo "Go is needed (1.21 or newer): https://go.dev/dl/"; exit 1; }
	@command -v cargo >/dev/null || { echo "Rust is needed: https://rustup.rs"; exit 1; }

# A CI runner, as root: the local tier's packages, and user namespaces for an unprivileged run
# (Ubuntu 24.04 restricts them through AppArmor).
host: apt-run
	@if [ -f /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then \
	  sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0; fi

# The fake cloud's S3/IAM/STS server (moto) and the real clients that check the fakes (boto3).
# --no-compile: pip would compile every module of every package (15 of its 41 CPU-seconds, which
# the first result waits for on 2 cores); running harness/fakes/moto_cloud.py's imports (not its
# main) compiles the ~700 modules a sandbox needs (2 CPU-seconds), once, not in every sandbox that
# starts first. run_path writes no bytecode for the script itself into the source tree.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --no-compile --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/python -c 'import runpy; runpy.run_path("harness/fakes/moto_cloud.py", run_name="imports")'
	touch $@

# The CLI alone; then the library, the CLI and every test binary.
cli:
	cargo build --bin authmatrix
build:
	cargo test --no-run

# The modules the default tags' probes build from (or those of GO_MODULE_SUMS), as their committed
# go.sum files list them (checked against those sums when the probes build): downloads only, so
# that they can overlap the Rust build. Best effort: `make probes` reports what is still missing.
GO_MODULE_SUMS ?= probes/*/sums/*.sum
go-modules:
	@awk '$$2 !~ /\/go\.mod$$/ {print $$1 "@" $$2}' $(GO_MODULE_SUMS) | sort -u \
	  | GONOSUMDB=github.com/argoproj/argo-workflows xargs go mod download -x 2>&1 \
	  | awk '/\.zip: 200/ {if (++n % 100 == 0) print "go-modules: " n " downloaded"; next} \
	         /^go: / {print} END {print "go-modules: " n+0 " modules downloaded"}'

# Probe builds for the default Argo tags (cached under ~/.cache/authmatrix), and the S3 probe of
# v4.0.2, which the suite runs for the credential-logging regression (PR 14706). With ARGO (the
# nightly's tags), every probe of those tags.
TEST_ONLY_PROBES := --argo v4.0.2 --scenario s3-static-keys
probes: $(built)
ifeq ($(ARGO),)
	AUTHMATRIX_SCENARIO=$(NATIVE_SCENARIOS) $(AUTHMATRIX) prepare
	$(AUTHMATRIX) prepare --argo $(EMULATED_TAGS) --scenario $(EMULATED)
	$(AUTHMATRIX) prepare $(TEST_ONLY_PROBES)
else
	$(AUTHMATRIX) prepare --argo $(ARGO)
endif

# Kubernetes (one multi-call binary), etcd and each cluster tag's workflow-controller, built from
# their Go modules (cached under ~/.cache/authmatrix/cluster by version and source).
cluster: $(built)
	$(AUTHMATRIX) prepare --backend cluster --argo $(CLUSTER_TAGS)

# actionlint from its Go module, checksums pinned in tools/actionlint/go.sum.
actionlint: $(ACTIONLINT)
$(ACTIONLINT): tools/actionlint/go.mod tools/actionlint/go.sum
	@mkdir -p $(dir $@)
	cd tools/actionlint && GOFLAGS='-mod=readonly $(GO_NO_DWARF)' go build -trimpath -ldflags '-s -w' -o $@.partial github.com/rhysd/actionlint/cmd/actionlint
	mv $@.partial $@

# MinIO, the S3 server of Argo's quick-start, for `cloud.s3: minio` scenarios: built from its Go
# module as MinIO's Makefile builds it (CGO off, tag kqueue), version and checksums pinned in
# tools/minio/go.mod and go.sum; authmatrix finds it by that version in the cache.
MINIO_VERSION := $(call module_version,github.com/minio/minio,tools/minio/go.mod)
MINIO := $(CACHE)/tools/minio-$(MINIO_VERSION)
minio: $(MINIO)
$(MINIO): tools/minio/go.mod tools/minio/go.sum
	@mkdir -p $(dir $@)
	cd tools/minio && CGO_ENABLED=0 GOFLAGS='-mod=readonly $(GO_NO_DWARF)' go build -tags kqueue -trimpath -ldflags '-s -w' -o $@.partial github.com/minio/minio
	mv $@.partial $@

# The container engine the kind provider runs its nodes on (`authmatrix engine` serves it in a
# sandbox; the suite's Docker tier tests it). Debian's dockerd 20.10 cannot start a
# --privileged container here (`unable to apply caps`: the VM withholds CAP_SYS_RESOURCE) and its
# runc 1.1.5 fails every container under a newer daemon, so both come from their Go modules, versions
# and checksums pinned in tools/dockerd and tools/runc (kind-facts.md §7), cached by version.
DOCKERD_VERSION := $(call module_version,github.com/moby/moby/v2,tools/dockerd/go.mod)
RUNC_VERSION := $(call module_version,github.com/opencontainers/runc,tools/runc/go.mod)
DOCKERD := $(CACHE)/tools/dockerd-$(DOCKERD_VERSION)
RUNC := $(CACHE)/tools/runc-$(RUNC_VERSION)
engine: $(DOCKERD) $(RUNC)
$(DOCKERD): tools/dockerd/go.mod tools/dockerd/go.sum
	@mkdir -p $(dir $@)
	cd tools/dockerd && GOFLAGS='-mod=readonly $(GO_NO_DWARF)' go build -tags exclude_graphdriver_btrfs -trimpath \
	  -ldflags '-s -w -X github.com/moby/moby/v2/dockerversion.Version=$(DOCKERD_VERSION)' \
	  -o $@.partial github.com/moby/moby/v2/cmd/dockerd
	mv $@.partial $@
# seccomp: runc's own build tag (libseccomp through cgo), as its release binaries have it.
$(RUNC): tools/runc/go.mod tools/runc/go.sum | apt-engine
	@mkdir -p $(dir $@)
	cd tools/runc && CGO_ENABLED=1 GOFLAGS='-mod=readonly $(GO_NO_DWARF)' go build -tags seccomp -trimpath \
	  -ldflags '-s -w -X main.version=$(RUNC_VERSION:v%=%)' -o $@.partial github.com/opencontainers/runc
	mv $@.partial $@

# kind's node image for Kubernetes v1.34.1 made without a registry (debootstrap, kind's base files,
# Kubernetes with kubeadm, etcd, CoreDNS and pause from their Go modules, preloaded), and the kind
# CLI: tools/kind-node/build.sh, cached by version under $(CACHE)/kind. Kubernetes and etcd are
# cluster/'s wrapper modules, as local-up's: after `make cluster` they only relink. KIND_NODE_AFTER
# (`make setup` sets it to `cluster`) orders the two where they run side by side.
KIND_NODE_AFTER ?=
kind-node: $(RUNC) $(KIND_NODE_AFTER) | apt-kind
	AUTHMATRIX_CACHE=$(CACHE) tools/kind-node/build.sh

# No files: every workflow under .github/workflows.
ACTIONLINT_FILES ?=
lint-workflows: $(ACTIONLINT)
	$(ACTIONLINT) -no-color $(ACTIONLINT_FILES)

test: test-local test-cluster test-kind

# A plain `cargo test` skips the tests whose tier (what a make target here provides) is absent and
# names each such tier on stderr; the test targets skip none: a missing piece fails its tests.
test-local test-cluster test-kind: export AUTHMATRIX_TIERS = required

# Everything but the cluster and Docker tiers: the suite's `cluster_tier::` tests need `make cluster`
# and `make minio` (the matrix reports minio cells not applicable without MinIO), its `docker_tier::`
# tests `make engine`. Pure tests anywhere
# (the library's `backend::cluster` units included) run here.
test-local: apt-test lint-workflows probes
	cargo test -- --skip cluster_tier:: --skip docker_tier:: $(EMULATED_SKIPS)

# The cluster tier: the suite's cluster tests (kube-rs against the API server, interrupted
# cluster runs), its Docker tier (the engine, on one test thread: testcontainers reads DOCKER_HOST
# from the environment) and the controller column on the cluster backend (trials
# <scenario>::<tag>::cluster).
test-cluster:
	cargo test --test suite -- cluster_tier::
	cargo test --test suite -- docker_tier::engine:: --test-threads=1
	AUTHMATRIX_BACKEND=cluster AUTHMATRIX_ARGO=$(CLUSTER_TAGS) cargo test --test matrix

# The kind provider on the harness's engine: a smoke of the controller column on two tags and
# interrupted kind runs (the suite's `docker_tier::kind::`).
test-kind: kind-node
	cargo test --test suite -- docker_tier::kind:: --test-threads=1

bench:
	cargo bench --bench matrix

# Interrupted runs (SIGINT, SIGTERM, SIGKILL of the harness or a sandbox) and what they leave.
FAULT_RUNS ?= 100
faults:
	FAULT_RUNS=$(FAULT_RUNS) cargo test --test faults

scenarios: $(built)
	$(AUTHMATRIX) scenarios

# What .github/workflows/*.yml run, one target per step (tests/suite/workflows.rs runs them too).
# Authmatrix writes to GITHUB_STEP_SUMMARY and GITHUB_OUTPUT itself when they are set.
nightly_argo = $(or $(ARGO),$(NIGHTLY_ARGO))

setup-local-nightly:
	$(MAKE) setup-local ARGO=$(nightly_argo)
	$(MAKE) probes ARGO=$(nightly_argo)

nightly: $(built)
	$(AUTHMATRIX) run --argo $(nightly_argo) --out $(OUT)

previous-report:
	@rm -rf $(PREVIOUS) && mkdir -p $(PREVIOUS)
	@if ! command -v gh >/dev/null || [ -z "$${GITHUB_REPOSITORY:-}" ]; then \
	  echo "no previous report: outside GitHub Actions (needs gh and GITHUB_REPOSITORY)"; exit 0; fi; \
	run=$$(gh run list --repo "$$GITHUB_REPOSITORY" --workflow nightly.yml --status completed \
	  --limit 1 --json databaseId --jq '.[0].databaseId // empty'); \
	if [ -z "$$run" ]; then echo "no previous report: no earlier nightly run"; exit 0; fi; \
	gh run download "$$run" --repo "$$GITHUB_REPOSITORY" --name authmatrix-report --dir $(PREVIOUS) \
	  || echo "no previous report: run $$run kept none"

nightly-diff: $(built)
	@if [ -f $(PREVIOUS)/report.json ]; then $(AUTHMATRIX) diff $(PREVIOUS)/report.json $(OUT)/report.json; \
	else echo "no previous report in $(PREVIOUS)/: nothing to compare"; fi

# FROM, TO and USES (space-separated scenario globs) come from the environment or the command line.
USES ?= *
upgrade-gate: $(built)
	@[ -n "$(FROM)" ] && [ -n "$(TO)" ] || { echo "upgrade-gate needs FROM and TO (Argo tags)"; exit 2; }
	$(AUTHMATRIX) verdict --from $(FROM) --to $(TO) $(foreach g,$(USES),--uses '$(g)')

clean:
	rm -rf $(VENV) target out
