# authmatrix: `make setup` once on a fresh machine, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
APT_PACKAGES := iproute2 ca-certificates skopeo busybox-static chromium containerd runc containernetworking-plugins
# The cluster tier: Argo tags whose workflow-controller runs against the local-up cluster in `make test`.
CLUSTER_TAGS ?= v3.5.11,v3.6.0,v3.6.5

.PHONY: setup apt venv probes cluster test test-cluster bench scenarios clean

setup: apt venv probes cluster

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	  else echo "install as root: apt-get install$$missing"; exit 1; fi; \
	fi
	@command -v go >/dev/null || { echo "Go is needed (1.21 or newer): https://go.dev/dl/"; exit 1; }
	@command -v cargo >/dev/null || { echo "Rust is needed: https://rustup.rs"; exit 1; }

# The fake cloud's S3/IAM/STS server (moto) and the real clients that check the fakes (boto3).
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

# Go modules and probe builds for the default Argo tags (cached under ~/.cache/authmatrix).
probes:
	cargo run -q -- prepare

# Kubernetes (one multi-call binary), etcd and each cluster tag's workflow-controller, built from
# their Go modules (cached under ~/.cache/authmatrix/cluster by version and source).
cluster:
	cargo run -q -- prepare --backend cluster --argo $(CLUSTER_TAGS)

test:
	cargo test
	$(MAKE) test-cluster

# The controller column on the cluster backend: trials named <scenario>::<tag>::cluster.
test-cluster:
	AUTHMATRIX_BACKEND=cluster AUTHMATRIX_ARGO=$(CLUSTER_TAGS) cargo test --test matrix

bench:
	cargo bench --bench matrix

scenarios:
	cargo run -q -- scenarios

clean:
	rm -rf $(VENV) target out
