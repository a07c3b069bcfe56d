#!/usr/bin/env bash
# Proves the node image of build.sh: starts a private Docker daemon (dockerd and runc from
# tools/dockerd and tools/runc, `make engine`), loads the image, `kind create cluster` (one
# control-plane node), waits for the node to be Ready, lists the pods, deletes the cluster and
# stops everything again. Run as root, after build.sh:
#
#   tools/kind-node/smoke.sh            # KEEP=1: leave the cluster up until Enter is pressed
#
# Everything runs inside `unshare --fork --pid -m -n`: a private PID, mount and network namespace,
# so the daemon's bridges, iptables rules and mounts vanish with it, and every process of it is
# killed when it ends. Afterwards the cgroups the daemon made (under --cgroup-parent) are removed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${AUTHMATRIX_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/authmatrix}}
CACHE=${CACHE:-$HOME/.cache/authmatrix}
module_version() { awk -v m="$1" '$1 == m {print $2} $1 == "require" && $2 == m {print $3}' "$2/go.mod"; }
K8S_VERSION=$(module_version k8s.io/kubernetes "$HERE/kubernetes")
KIND=$CACHE/kind/kind-$(module_version sigs.k8s.io/kind "$HERE/kind")
TARBALL=$CACHE/kind/kindest-node-$K8S_VERSION-authmatrix.tar
IMAGE=kindest/node:$K8S_VERSION-authmatrix
DOCKERD=$CACHE/tools/dockerd-$(module_version github.com/moby/moby/v2 "$ROOT/tools/dockerd")
RUNC=$CACHE/tools/runc-$(module_version github.com/opencontainers/runc "$ROOT/tools/runc")
W=${KIND_NODE_SMOKE_DIR:-/tmp/kind-node-smoke}
LOGS=${KIND_NODE_SMOKE_LOGS:-/tmp/kind-node-smoke-logs}
CGROUP_PARENT=kind-node-smoke
CLUSTER=${CLUSTER:-spike}
export PATCH=${PATCH:-1} K8S_VERSION W LOGS KIND TARBALL IMAGE DOCKERD RUNC CGROUP_PARENT CLUSTER

log() { printf '%s [smoke] %s\n' "$(date +%T)" "$*" >&2; }
timed() {
  local what=$1 start=$SECONDS; shift
  log "$what ..."
  "$@"
  log "$what: $((SECONDS - start)) s"
}

inner() {
  ip link set lo up
  mount -t tmpfs -o mode=755 tmpfs /run # private /run (/var/run -> /run): xtables.lock, netns, …
  mkdir -p "$W"
  cat >"$W/daemon.json" <<EOF
{"runtimes": {"runc-authmatrix": {"path": "$RUNC"}}, "default-runtime": "runc-authmatrix",
 "features": {"containerd-snapshotter": false}, "exec-opts": ["native.cgroupdriver=cgroupfs"]}
EOF
  "$DOCKERD" --config-file "$W/daemon.json" --data-root "$W/docker" --exec-root "$W/exec" \
    -H "unix://$W/docker.sock" --pidfile "$W/docker.pid" --userland-proxy=false \
    --cgroup-parent "/$CGROUP_PARENT" >"$W/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST=unix://$W/docker.sock
  export KUBECONFIG=$W/kubeconfig # kind writes its context here, not into ~/.kube/config
  stop() {
    local rc=$? node=$CLUSTER-control-plane
    if [[ $rc != 0 ]]; then # what went wrong, kept in $LOGS
      mkdir -p "$LOGS"
      cp "$W/dockerd.log" "$LOGS/" 2>/dev/null || true
      docker logs "$node" >"$LOGS/node.log" 2>&1 || true
      docker exec "$node" journalctl --no-pager >"$LOGS/journal.log" 2>&1 || true
      docker exec "$node" sh -c 'ls /var/log/pods; tail -n 50 /var/log/pods/*/*/*.log' >"$LOGS/pods.log" 2>&1 || true
      log "failed ($rc): logs in $LOGS"
    fi
    if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
      "$KIND" delete cluster --name "$CLUSTER" || true
    fi
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
    exit "$rc"
  }
  trap stop EXIT
  for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.3; done
  docker version --format 'docker server {{.Server.Version}} (API {{.Server.APIVersion}})' >&2

  if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    timed "docker load" docker load -i "$TARBALL" >&2
  fi
  cat >"$W/kind.yaml" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    image: $IMAGE
EOF
  # The image has this already (the VM withholds CAP_SYS_RESOURCE); PATCH=0 leaves it out.
  [[ ${PATCH:-1} == 0 ]] || cat >>"$W/kind.yaml" <<'EOF'
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri"]
    restrict_oom_score_adj = true
EOF
  timed "kind create cluster" "$KIND" create cluster --name "$CLUSTER" --config "$W/kind.yaml" --wait 5m --retain
  local node=$CLUSTER-control-plane
  docker exec "$node" kubectl get nodes -o wide >&2
  kubectl() { docker exec -i "$node" kubectl "$@"; }
  timed "coredns and kube-proxy ready" bash -c '
    set -e
    docker exec "$1" kubectl -n kube-system rollout status deployment/coredns --timeout=180s
    docker exec "$1" kubectl -n kube-system rollout status daemonset/kube-proxy --timeout=180s' _ "$node" >&2
  kubectl get pods -A -o wide >&2
  # A workload image as the harness would bring one: `docker import`ed (busybox-static), `kind load`ed.
  local bb=$W/busybox-rootfs
  mkdir -p "$bb/bin" && cp "$(command -v busybox)" "$bb/bin/busybox" && ln -sf busybox "$bb/bin/sh"
  tar -C "$bb" -c . | docker import --change 'ENV PATH=/bin' - authmatrix.local/busybox:smoke >/dev/null
  timed "kind load docker-image" "$KIND" load docker-image authmatrix.local/busybox:smoke --name "$CLUSTER"
  # A pod (pod network, CoreDNS, service account token, the `kubernetes` Service through kube-proxy),
  # never pulled: the loaded image, and the kube image (kubectl is in it).
  kubectl apply -f - >&2 <<POD
apiVersion: v1
kind: Pod
metadata: {name: smoke, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - name: dns
    image: authmatrix.local/busybox:smoke
    imagePullPolicy: Never
    command: [busybox, nslookup, kubernetes.default.svc.cluster.local]
  - name: api
    image: registry.k8s.io/kube-proxy:$K8S_VERSION
    imagePullPolicy: Never
    command: [kube, kubectl, get, --raw, /version]
POD
  timed "smoke pod Succeeded" kubectl wait pod/smoke --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s >&2
  kubectl logs smoke --all-containers >&2
  kubectl delete pod smoke --wait=false >&2
  # From outside the node, through kind's kubeconfig (the published API server port).
  docker exec "$node" cat /usr/bin/kube >"$W/kubectl" && chmod +x "$W/kubectl"
  "$W/kubectl" get --raw /readyz >&2 && echo " (/readyz via $(grep server: "$KUBECONFIG"))" >&2
  if [[ -n ${KEEP_CLUSTER:-} ]]; then
    log "cluster $CLUSTER is up: DOCKER_HOST=$DOCKER_HOST; press Enter to delete it"
    read -r _
    KEEP_CLUSTER=
  fi
  timed "kind delete cluster" "$KIND" delete cluster --name "$CLUSTER"
}

if [[ ${1:-} == --inner ]]; then
  inner
  exit
fi

[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }
for f in "$KIND" "$TARBALL" "$DOCKERD" "$RUNC"; do
  [[ -e $f ]] || { echo "missing $f (tools/kind-node/build.sh; make engine)" >&2; exit 1; }
done
command -v containerd >/dev/null || { echo "containerd not found (apt-get install containerd)" >&2; exit 1; }
made_modules=
[[ -e /lib/modules ]] || made_modules=1 # kind mounts /lib/modules; docker creates a missing source
rc=0
KEEP_CLUSTER=${KEEP:-} unshare --fork --pid --mount-proc -m -n --propagation private "$0" --inner || rc=$?
# The daemon's cgroups, deepest first (its containers are gone with the PID namespace).
for c in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
  [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
[[ -z $made_modules ]] || rmdir /lib/modules 2>/dev/null || true
rm -rf "$W"
left=$(ls -d /sys/fs/cgroup/*/"$CGROUP_PARENT" 2>/dev/null || true)
[[ -z $left ]] || echo "cgroups left: $left" >&2
exit "$rc"
