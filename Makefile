# authmatrix: `make setup` once on a fresh machine, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
APT_PACKAGES := iproute2 ca-certificates skopeo busybox-static chromium

.PHONY: setup apt venv probes test bench scenarios clean

setup: apt venv probes

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

test:
	cargo test

bench:
	cargo bench --bench matrix

scenarios:
	cargo run -q -- scenarios

clean:
	rm -rf $(VENV) target out
