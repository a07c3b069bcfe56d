#!/usr/bin/env bash
# Builds a kind node image for Kubernetes v1.34.1 without any container registry, and the kind CLI.
# See README.md next to this file. Run as root (debootstrap, chroot, a throw-away containerd):
#
#   tools/kind-node/build.sh
#
# Produces, cached by version under ${AUTHMATRIX_CACHE:-$HOME/.cache/authmatrix}/kind/:
#   kindest-node-v1.34.1-authmatrix.tar   docker-archive (`docker load -i`) of kindest/node:v1.34.1-authmatrix
#   kind-v0.33.0                          the kind CLI
# Inputs: Debian bookworm (deb.debian.org), the Go module proxy, the wrapper modules of this
# directory and of cluster/ (Kubernetes and etcd: the same builds as local-up's, so the Go build
# cache serves both; checksums pinned in their go.sum files) and runc (tools/runc, built by `make`
# if it is missing).
# Idempotent: a second run with unchanged inputs only prints the paths.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${AUTHMATRIX_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/authmatrix}}
CACHE=${CACHE:-$HOME/.cache/authmatrix}
OUT=$CACHE/kind
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm # systemd 252: still fine with cgroup v1 (trixie's 257 deprecates it)

# As the harness builds cluster/ (harness/builds/go.rs): the same flags, so that its compiled packages are reused.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false -gcflags=all=-dwarf=false"

# The version $2/go.mod requires of module $1 (as the Makefile's module_version).
module_version() { awk -v m="$1" '$1 == m {print $2} $1 == "require" && $2 == m {print $3}' "$2/go.mod"; }
K8S_VERSION=$(module_version k8s.io/kubernetes "$ROOT/cluster/kubernetes")
KIND_VERSION=$(module_version sigs.k8s.io/kind "$HERE/kind")
ETCD_VERSION=$(module_version go.etcd.io/etcd/server/v3 "$ROOT/cluster/etcd")
COREDNS_VERSION=$(module_version github.com/coredns/coredns "$HERE/coredns")
RUNC_VERSION=$(module_version github.com/opencontainers/runc "$ROOT/tools/runc")
RUNC=$CACHE/tools/runc-$RUNC_VERSION
IMAGE=kindest/node:$K8S_VERSION-authmatrix
TARBALL=$OUT/kindest-node-$K8S_VERSION-authmatrix.tar
KIND=$OUT/kind-$KIND_VERSION
GO_VERSION=$(go env GOVERSION)

log() { printf '%s [kind-node] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# Runs "$@" and logs its wall time.
timed() {
  local what=$1 start=$SECONDS; shift
  log "$what ..."
  "$@"
  log "$what: $((SECONDS - start)) s"
}

# Progress goes to stderr; stdout gets the tarball's path only.
exec 3>&1 1>&2
[[ $(id -u) == 0 ]] || die "run as root (debootstrap, chroot, containerd)"
for tool in go debootstrap containerd ctr jq tar sha256sum flock busybox; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install debootstrap containerd jq busybox-static)"
done
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9

# ---------------------------------------------------------------------------------------------
# The kind CLI.
if [[ ! -x $KIND ]]; then
  timed "building kind $KIND_VERSION" \
    bash -c 'cd "$1/kind" && go build -trimpath -ldflags "-s -w" -o "$2.partial" sigs.k8s.io/kind' _ "$HERE" "$KIND"
  mv "$KIND.partial" "$KIND"
fi

# ---------------------------------------------------------------------------------------------
# Go programs of the image, cached by the hash of their modules, the Go version and the flags.
key_of() { # files... -> 12 hex digits (with $GO_VERSION, $GOFLAGS and $KEY_EXTRA)
  { printf '%s\n' "$GO_VERSION" "$GOFLAGS" "${KEY_EXTRA:-}"; cat "$@"; } | sha256sum | cut -c1-12
}
KUBE_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  KUBE_LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
GO_SOURCES=("$ROOT"/cluster/{kubernetes,etcd}/{go.*,main.go} "$HERE"/coredns/go.* "$HERE"/pause/{go.*,main.go})
BIN=$OUT/bin-$(KEY_EXTRA=$KUBE_LDFLAGS key_of "${GO_SOURCES[@]}")
build_go() { # module-dir package output [ldflags]
  local dir=$1 pkg=$2 out=$3 ldflags=${4:--s -w}
  [[ -x $BIN/$out ]] && return 0
  mkdir -p "$BIN"
  timed "building $out" bash -c 'cd "$1" && go build -trimpath -ldflags "$4" -o "$3.partial" "$2"' \
    _ "$dir" "$pkg" "$BIN/$out" "$ldflags"
  mv "$BIN/$out.partial" "$BIN/$out"
}

# Everything the image is made of: this script, the wrapper modules, runc's module and Go.
IMAGE_KEY=$(KEY_EXTRA="$KUBE_LDFLAGS $SUITE" key_of "$HERE/build.sh" "$HERE"/kind/go.* "${GO_SOURCES[@]}" "$ROOT/tools/runc/go."*)
if [[ -f $TARBALL && "$(cat "$TARBALL.key" 2>/dev/null)" == "$IMAGE_KEY" ]]; then
  log "up to date: $TARBALL ($IMAGE), $KIND"
  echo "$TARBALL" >&3
  exit 0
fi

log "Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, CoreDNS $COREDNS_VERSION, runc $RUNC_VERSION, kind $KIND_VERSION"
# kube: one multi-call binary (kubeadm, kubelet, kubectl, kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy; cluster/kubernetes/main.go), with the version ldflags local-up's build
# sets (harness/builds/cluster.rs kube_ldflags); etcd; coredns; pause.
build_go "$ROOT/cluster/kubernetes" . kube "$KUBE_LDFLAGS"
build_go "$ROOT/cluster/etcd" . etcd "-s -w"
build_go "$HERE/coredns" github.com/coredns/coredns coredns "-s -w"
build_go "$HERE/pause" . pause "-s -w"
if [[ ! -x $RUNC ]]; then
  timed "building runc $RUNC_VERSION (make)" make -C "$ROOT" "$RUNC" CACHE="$CACHE"
fi

# ---------------------------------------------------------------------------------------------
W=$(mktemp -d "${TMPDIR:-/tmp}/kind-node-build.XXXXXX")
CTRD_PID=
cleanup() {
  if [[ -n $CTRD_PID ]]; then kill "$CTRD_PID" 2>/dev/null || true; wait "$CTRD_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
R=$W/rootfs

# docker-archive (what `docker save` writes and `docker load` / `ctr images import` read) of one
# directory as one layer: write_archive DIR OUT CONFIG-JSON TAG... — CONFIG-JSON is the image's
# `config` object (Env, Entrypoint, StopSignal …). Written by hand: `docker import` needs a daemon
# and cannot set STOPSIGNAL.
write_archive() {
  local dir=$1 out=$2 config=$3 a diff cfg; shift 3
  a=$(mktemp -d "$W/archive.XXXXXX")
  tar -C "$dir" --sort=name --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --anchored --exclude='./proc/?*' --exclude='./sys/?*' --exclude='./dev/?*' \
    -cf "$a/layer.tar" .
  diff=$(sha256sum "$a/layer.tar" | cut -d' ' -f1)
  mkdir "$a/$diff" && mv "$a/layer.tar" "$a/$diff/layer.tar"
  jq -n --arg diff "sha256:$diff" --argjson config "$config" '{
    architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z", config: $config,
    rootfs: {type: "layers", diff_ids: [$diff]},
    history: [{created: "1970-01-01T00:00:00Z", created_by: "tools/kind-node/build.sh"}]
  }' >"$a/config.json"
  cfg=$(sha256sum "$a/config.json" | cut -d' ' -f1)
  mv "$a/config.json" "$a/$cfg.json"
  jq -n --arg cfg "$cfg.json" --arg layer "$diff/layer.tar" '[{Config: $cfg, RepoTags: $ARGS.positional, Layers: [$layer]}]' \
    --args "$@" >"$a/manifest.json"
  tar -C "$a" --numeric-owner -cf "$out" manifest.json "$cfg.json" "$diff/layer.tar"
  rm -rf "$a"
}
PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# ---------------------------------------------------------------------------------------------
# 1. Debian rootfs with what kind's images/base/Dockerfile installs (minus nfs/iscsi/fuse/curl),
#    Debian's containerd 1.6.20 and CNI plugins.
PACKAGES=systemd,systemd-sysv,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod
PACKAGES+=,libseccomp2,pigz,bash,ca-certificates,procps,jq,e2fsprogs,socat,containerd,containernetworking-plugins
timed "debootstrap $SUITE" bash -c 'debootstrap --variant=minbase --include="$1" "$2" "$3" "$4" >"$5" 2>&1' _ \
  "$PACKAGES" "$SUITE" "$R" "$DEBIAN_MIRROR" "$W/debootstrap.log" || { tail -20 "$W/debootstrap.log"; die "debootstrap failed"; }

# 2. kind's base image files and steps (images/base/Dockerfile of sigs.k8s.io/kind@KIND_VERSION).
configure_rootfs() {
  local kind_dir files
  kind_dir=$(cd "$HERE/kind" && go mod download -json sigs.k8s.io/kind | jq -r .Dir)
  files=$kind_dir/images/base/files
  install -m 0755 -D -t "$R/usr/local/bin" "$files"/usr/local/bin/*
  install -m 0755 -d "$R/kind" "$R/kind/bin" "$R/kind/manifests" "$R/LICENSES"
  install -m 0644 "$files/kind/README.txt" "$R/kind/"
  install -m 0755 -t "$R/kind/bin" "$files"/kind/bin/*
  install -m 0644 -t "$R/LICENSES" "$files"/LICENSES/*
  install -m 0644 -t "$R/etc" "$files"/etc/crictl.yaml
  install -m 0644 -D -t "$R/etc/containerd" "$files"/etc/containerd/*
  install -m 0644 -D -t "$R/etc/default" "$files"/etc/default/*
  install -m 0644 -D -t "$R/etc/sysctl.d" "$files"/etc/sysctl.d/*
  install -m 0644 -D -t "$R/etc/systemd/system" "$files"/etc/systemd/system/*.service "$files"/etc/systemd/system/*.slice
  install -m 0644 -D -t "$R/etc/systemd/system/kubelet.service.d" "$files"/etc/systemd/system/kubelet.service.d/*

  # The Dockerfile's RUN steps.
  find "$R/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$R"/lib/systemd/system/multi-user.target.wants/* "$R"/etc/systemd/system/*.wants/* \
    "$R"/lib/systemd/system/local-fs.target.wants/* "$R"/lib/systemd/system/sockets.target.wants/*udev* \
    "$R"/lib/systemd/system/sockets.target.wants/*initctl* "$R"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$R/etc/systemd/journald.conf"
  [[ -e $R/sbin/init ]] || ln -s /usr/lib/systemd/systemd "$R/sbin/init"
  chroot "$R" systemctl enable kubelet.service containerd.service undo-mount-hacks.service
  chroot "$R" systemctl mask systemd-binfmt.service
  mkdir -p "$R/etc/kubernetes/manifests"

  # Container runtime: Debian's containerd where kind's units expect it, runc from tools/runc
  # (found first on PATH), Debian's CNI plugins where containerd looks for them.
  for b in containerd containerd-shim-runc-v2 ctr; do ln -sf "/usr/bin/$b" "$R/usr/local/bin/$b"; done
  install -m 0755 -D "$RUNC" "$R/usr/local/sbin/runc"
  mkdir -p "$R/opt/cni/bin"
  for p in host-local loopback ptp portmap bridge; do ln -sf "/usr/lib/cni/$p" "$R/opt/cni/bin/$p"; done
  chroot "$R" ctr oci spec \
    | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | jq 'del(.process.rlimits)' >"$R/etc/containerd/cri-base.json"
  # The sandbox image kubeadm names; restrict_oom_score_adj: this VM withholds CAP_SYS_RESOURCE, so
  # no process may lower its oom_score_adj (sandboxes ask for -998: "can't get final child's PID").
  sed -i -e "s#sandbox_image = .*#sandbox_image = \"$PAUSE_IMAGE\"#" \
    -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$R/etc/containerd/config.toml"

  # Kubernetes.
  install -m 0755 "$BIN/kube" "$R/usr/bin/kube"
  for b in kubeadm kubelet kubectl; do ln -sf kube "$R/usr/bin/$b"; done
  echo "$K8S_VERSION" >"$R/kind/version"
  # CNI: a static ptp + host-local + portmap chain on kind's default pod subnet (kindnetd's shape,
  # for a single node; kindnetd itself is not built) and a manifest for kind's CNI step to apply.
  mkdir -p "$R/etc/cni/net.d"
  cat >"$R/etc/cni/net.d/10-authmatrix.conflist" <<'EOF'
{
  "cniVersion": "0.3.1",
  "name": "authmatrix",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": true,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "10.244.0.0/24"}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$R/kind/manifests/default-cni.yaml" <<'EOF'
# The node image has a static CNI config (/etc/cni/net.d/10-authmatrix.conflist, pod subnet
# 10.244.0.0/24, single node): nothing to deploy. kind applies this file; it must not be empty.
apiVersion: v1
kind: ConfigMap
metadata:
  name: authmatrix-cni
  namespace: kube-system
data:
  conflist: /etc/cni/net.d/10-authmatrix.conflist
  podSubnet: "{{ .PodSubnet }}"
EOF

  # Leftovers of the build.
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/log/apt/*
  : >"$R/etc/machine-id"
  rm -f "$R/var/lib/dbus/machine-id"
}

IMAGES=$("$BIN/kube" kubeadm config images list --kubernetes-version "$K8S_VERSION")
PAUSE_IMAGE=$(grep /pause: <<<"$IMAGES")
timed "configuring the rootfs" configure_rootfs

# 3. Component images, named as `kubeadm config images list` names them.
make_images() {
  local images=$W/images img
  mkdir -p "$images"
  log "kubeadm wants: $(echo $IMAGES)"
  tag() { grep "/$1:" <<<"$IMAGES"; }

  # kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy: one image, four names
  # (kubeadm's manifests name the command). kube-proxy needs iptables/nft: the node's own binaries
  # and libraries, behind the iptables-wrappers mode detection the node's entrypoint also does.
  img=$W/img-kube
  mkdir -p "$img"/{usr/local/bin,usr/sbin,usr/bin,usr/lib/x86_64-linux-gnu,usr/lib64,etc,tmp,run}
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$img/$d"; done # merged /usr, as the node's
  chmod 1777 "$img/tmp"
  install -m 0755 "$BIN/kube" "$img/usr/local/bin/kube"
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do ln -s kube "$img/usr/local/bin/$c"; done
  install -m 0755 "$(command -v busybox)" "$img/usr/bin/busybox"
  for c in sh cat grep sed basename; do ln -s busybox "$img/usr/bin/$c"; done
  copy_with_libs "$img" /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi /usr/sbin/nft
  cp -a "$R/usr/lib/x86_64-linux-gnu/xtables" "$img/usr/lib/x86_64-linux-gnu/"
  cp -a "$R/etc/protocols" "$R/etc/services" "$R/etc/ethertypes" "$img/etc/" 2>/dev/null || true
  for t in iptables ip6tables; do
    for s in "" -save -restore; do
      ln -s xtables-nft-multi "$img/usr/sbin/$t-nft$s"
      ln -s xtables-legacy-multi "$img/usr/sbin/$t-legacy$s"
      ln -s iptables-wrapper "$img/usr/sbin/$t$s"
    done
  done
  cat >"$img/usr/sbin/iptables-wrapper" <<'EOF'
#!/bin/sh
# As sigs.k8s.io/iptables-wrappers and kind's entrypoint: use the mode (nft or legacy) that holds
# more rules in this network namespace, then run the command called in that mode.
mode=$(cat /tmp/.iptables-mode 2>/dev/null)
if [ -z "$mode" ]; then
  legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-')
  nft=$( (iptables-nft-save || true; ip6tables-nft-save || true) 2>/dev/null | grep -c '^-')
  if [ "${legacy:-0}" -gt "${nft:-0}" ]; then mode=legacy; else mode=nft; fi
  echo "$mode" >/tmp/.iptables-mode 2>/dev/null || true
fi
exec "/usr/sbin/$(basename "$0" | sed "s/^\(ip6*tables\)/\1-$mode/")" "$@"
EOF
  chmod 0755 "$img/usr/sbin/iptables-wrapper"
  write_archive "$img" "$images/kube.tar" "{\"Env\":[\"$PATH_ENV\"]}" \
    "$(tag kube-apiserver)" "$(tag kube-controller-manager)" "$(tag kube-scheduler)" "$(tag kube-proxy)"

  img=$W/img-etcd
  mkdir -p "$img"/{usr/local/bin,var/lib/etcd,tmp}
  chmod 1777 "$img/tmp"
  install -m 0755 "$BIN/etcd" "$img/usr/local/bin/etcd"
  write_archive "$img" "$images/etcd.tar" "{\"Env\":[\"$PATH_ENV\"],\"Cmd\":[\"/usr/local/bin/etcd\"]}" "$(tag etcd)"

  img=$W/img-coredns
  mkdir -p "$img/etc"
  install -m 0755 "$BIN/coredns" "$img/coredns"
  write_archive "$img" "$images/coredns.tar" "{\"Env\":[\"$PATH_ENV\"],\"Entrypoint\":[\"/coredns\"]}" "$(tag coredns)"

  img=$W/img-pause
  mkdir -p "$img"
  install -m 0755 "$BIN/pause" "$img/pause"
  write_archive "$img" "$images/pause.tar" '{"Entrypoint":["/pause"],"User":"65535:65535"}' \
    "$PAUSE_IMAGE" registry.k8s.io/pause:3.10
}
# copy_with_libs DEST BINARY...: binaries of the rootfs with the shared libraries they load.
copy_with_libs() {
  local dest=$1 f lib; shift
  for f in "$@"; do
    install -m 0755 -D "$R$f" "$dest$f"
    for lib in $(chroot "$R" ldd "$f" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
      [[ -e $dest$lib ]] || { mkdir -p "$dest$(dirname "$lib")"; cp -L "$R$lib" "$dest$lib"; }
    done
  done
  # libxtables' extension modules load further libraries.
  for lib in $(chroot "$R" sh -c 'ldd /usr/lib/x86_64-linux-gnu/xtables/*.so' | awk '/=> \//{print $3}' | sort -u); do
    [[ -e $dest$lib ]] || { mkdir -p "$dest$(dirname "$lib")"; cp -L "$R$lib" "$dest$lib"; }
  done
}
timed "making the component images" make_images

# 4. Preload them into the node's containerd store (k8s.io namespace, as kind's node-image build
#    does) with a throw-away containerd whose root is the rootfs' /var/lib/containerd. Not unpacked:
#    the node's CRI unpacks on first use.
preload() {
  local sock=$W/containerd.sock t
  cat >"$W/containerd.toml" <<EOF
version = 2
root = "$R/var/lib/containerd"
state = "$W/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  # In a private mount namespace: nothing it might mount outlives it.
  unshare -m --propagation private containerd --config "$W/containerd.toml" >"$W/containerd.log" 2>&1 &
  CTRD_PID=$!
  for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.2; done
  [[ -S $sock ]] || { cat "$W/containerd.log"; die "containerd did not start"; }
  for t in "$W"/images/*.tar; do
    ctr -a "$sock" -n k8s.io images import --no-unpack --all-platforms "$t" >&2
  done
  ctr -a "$sock" -n k8s.io images ls -q >&2
  kill "$CTRD_PID"; wait "$CTRD_PID" || true; CTRD_PID=
}
timed "preloading the images" preload

# 5. The node image.
CONFIG=$(jq -nc --arg path "$PATH_ENV" '{
  Env: [$path, "container=docker"],
  Entrypoint: ["/usr/local/bin/entrypoint", "/sbin/init"],
  StopSignal: "SIGRTMIN+3"
}')
timed "writing $TARBALL" write_archive "$R" "$TARBALL.partial" "$CONFIG" "$IMAGE"
mv "$TARBALL.partial" "$TARBALL"
echo "$IMAGE_KEY" >"$TARBALL.key"
for old in "$OUT"/bin-*; do [[ $old == "$BIN" ]] || rm -rf "$old"; done # programs of other inputs
log "built $TARBALL ($IMAGE, $(du -h "$TARBALL" | cut -f1)), $KIND in $SECONDS s"
echo "$TARBALL" >&3
