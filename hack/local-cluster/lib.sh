# shellcheck shell=bash disable=SC2034  # the settings here are used by the files that source it
# Common settings and helpers for hack/local-cluster/*. Sourced, not executed.
# Facts behind the choices: README.md beside this file and shared/docs/local-cluster.md.

# ---- paths ---------------------------------------------------------------------------------
LC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LC_DIR/../.." && pwd)"
TEMPLATES="$LC_DIR/templates"
K8S_MODULE_DIR="$REPO_ROOT/hack/k8s-build" # the Go module that pins Kubernetes and etcd
STATE="${READYGATE_CLUSTER_STATE:-$HOME/.local/state/readygate/cluster}"
CACHE="${READYGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate}"

# ---- versions --------------------------------------------------------------------------------
# The only place a version is written is hack/k8s-build/go.mod: the k8s.io/kubernetes release
# (its staging modules replaced by the matching v0.x.y), and etcd's server module. build.sh
# writes what it built to $BIN/versions.sh (K8S_VERSION, ETCD_VERSION, PAUSE_VERSION).
gomod_version() { # gomod_version MODULE -> the version hack/k8s-build/go.mod requires
  awk -v m="$1" '($1 == "require" && $2 == m) {print $3; exit} ($1 == m && $2 ~ /^v/) {print $2; exit}' \
    "$K8S_MODULE_DIR/go.mod"
}
K8S_VERSION="$(gomod_version k8s.io/kubernetes)"
ETCD_VERSION="$(gomod_version go.etcd.io/etcd/server/v3)"

# ---- addresses (all private, all local to this machine) --------------------------------------
NODE_NAME="${READYGATE_NODE_NAME:-readygate-node}"
NODE_IP="${READYGATE_NODE_IP:-10.199.0.1}"          # /32 on lo (the kernel has no dummy netdev)
POD_CIDR="${READYGATE_POD_CIDR:-10.244.0.0/16}"     # cluster CIDR
NODE_POD_CIDR="${READYGATE_NODE_POD_CIDR:-10.244.0.0/24}"  # the single node's podCIDR
SERVICE_CIDR="${READYGATE_SERVICE_CIDR:-10.96.0.0/16}"
SERVICE_IP_KUBERNETES="${READYGATE_SERVICE_IP_KUBERNETES:-10.96.0.1}"
BRIDGE="${READYGATE_BRIDGE:-rgbr0}"
APISERVER_PORT=6443
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
CLUSTER_NAME=readygate-local # also the kubeconfig context: tests/e2e refuse any other

# ---- derived paths ------------------------------------------------------------------------------
PKI="$STATE/pki"
PIDS="$STATE/pids"
LOGS="$STATE/logs"
CFG="$STATE/config"
KUBECONFIG_ADMIN="$STATE/kubeconfig"
CONTAINERD_ROOT="$STATE/containerd/root"
CONTAINERD_STATE="$STATE/containerd/state"
CONTAINERD_SOCK="$STATE/containerd/containerd.sock"
KUBELET_ROOT="$STATE/kubelet"
CNI_CONF_DIR="$STATE/cni/net.d"
CNI_IPAM_DIR="$STATE/cni/ipam"
CNI_BIN_DIR=/usr/lib/cni
SYSCTL_SAVED="$STATE/sysctl.saved"
DATA_VERSION_FILE="$STATE/etcd.created-by" # which Kubernetes minor wrote the etcd data

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)

# sysctls that kubelet / the bridge / kube-proxy change: saved at first start, restored by down.
SAVED_SYSCTLS=(
  vm.overcommit_memory
  kernel.panic
  kernel.panic_on_oops
  net.ipv4.ip_forward
  net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables
)

# Never let anything probe a cloud metadata service (none of the binaries has a cloud provider
# or an in-tree credential provider any more; this is belt and braces for the SDKs' defaults).
export AWS_EC2_METADATA_DISABLED=true GCE_METADATA_HOST=127.0.0.1:1 NO_GCE_CHECK=true

# ---- logging -------------------------------------------------------------------------------------
_T0=$(date +%s.%N)
log() { printf '[%s %6.1fs] %s\n' "${LC_PROG:-local-cluster}" "$(_elapsed)" "$*" >&2; }
warn() { printf '[%s %6.1fs] WARNING: %s\n' "${LC_PROG:-local-cluster}" "$(_elapsed)" "$*" >&2; }
die() {
  printf '[%s %6.1fs] ERROR: %s\n' "${LC_PROG:-local-cluster}" "$(_elapsed)" "$*" >&2
  if declare -F on_error >/dev/null; then on_error || true; fi
  exit 1
}
_elapsed() { since "$_T0"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# usage: the comment block at the top of the running script (its --help).
usage() { awk 'NR > 1 && /^#/ { if ($0 !~ /^# shellcheck /) { sub(/^# ?/, ""); print }; next } NR > 1 { exit }' "$0" >&2; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it creates network devices, mounts and cgroups)"; }

# take_lock FD FILE: flock, waiting up to 15 min for another up/down/restart.
take_lock() {
  local fd="$1" file="$2"
  eval "exec $fd>\"\$file\""
  flock -n "$fd" || {
    log "another up/down/restart holds $file; waiting (up to 15 min)"
    flock -w 900 "$fd" || die "could not get $file"
  }
}

# ---- processes (by recorded PID only) ------------------------------------------------------------
# pid_file NAME -> path; a PID file holds "PID EXE" so a reused PID is never mistaken for ours.
pid_file() { echo "$PIDS/$1.pid"; }

# proc_alive NAME: true if the recorded process still runs the recorded executable.
proc_alive() {
  local f pid exe cur
  f="$(pid_file "$1")"
  [ -s "$f" ] || return 1
  read -r pid exe <"$f" || return 1
  [ -n "${pid:-}" ] && [ -d "/proc/$pid" ] || return 1
  cur="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  cur="${cur% (deleted)}"
  [ -z "$exe" ] || [ "$cur" = "$exe" ]
}

recorded_pid() { local pid _; read -r pid _ <"$(pid_file "$1")"; echo "$pid"; }

# running PID: the process exists and is not a zombie (an orphan may wait a while to be reaped).
running() { [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# stop_proc NAME [TIMEOUT_S]: SIGTERM the recorded PID, then SIGKILL; remove the PID file.
stop_proc() {
  local name="$1" timeout="${2:-10}" pid i
  if proc_alive "$name"; then
    pid="$(recorded_pid "$name")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      log "  $name (pid $pid) did not stop in ${timeout}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    log "  stopped $name (pid $pid)"
  fi
  rm -f "$(pid_file "$name")"
}

# start_proc NAME EXE ARGS...: start detached (own session), log to $LOGS/NAME.log, record PID.
start_proc() {
  local name="$1" exe="$2"
  shift 2
  mkdir -p "$PIDS" "$LOGS"
  if [ -s "$LOGS/$name.log" ]; then mv -f "$LOGS/$name.log" "$LOGS/$name.log.1"; fi
  # close the lock descriptors (7, 8, 9) so that the daemon does not hold up/down's flock
  setsid "$exe" "$@" </dev/null >"$LOGS/$name.log" 2>&1 7>&- 8>&- 9>&- &
  local pid=$!
  echo "$pid $(readlink -f "$exe")" >"$(pid_file "$name")"
  log "  started $name (pid $pid, log $LOGS/$name.log)"
}

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: poll every 0.2 s.
wait_for() {
  local what="$1" timeout="$2" i
  shift 2
  for ((i = 0; i < timeout * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${timeout}s waiting for $what"
}

# ---- the machine's own Debian mirror ---------------------------------------------------------------
# host_suite: the machine's Debian codename (bookworm).
host_suite() {
  local s
  s="$(awk -F= '$1 == "VERSION_CODENAME" {gsub(/"/, "", $2); print $2}' /etc/os-release)"
  [ -n "$s" ] || die "no VERSION_CODENAME in /etc/os-release"
  echo "$s"
}

# debian_mirror [SUITE]: the first URI of an enabled `deb` source for SUITE with component main,
# from the machine's apt configuration (deb822 *.sources, then one-line *.list). Never a
# hard-coded host: what the machine uses is what is reachable from it.
debian_mirror() {
  local suite="${1:-$(host_suite)}" f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk -v suite="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") &&
            (" " comps " ") ~ / main / && enabled != "no" && uri != "" && !found) { print uri; found = 1 }
        types = suites = comps = uri = ""; enabled = "yes"
      }
      BEGIN { enabled = "yes" }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "") }
      key == "types" { types = $0 } key == "suites" { suites = $0 } key == "components" { comps = $0 }
      key == "enabled" { enabled = tolower($0) } key == "uris" { split($0, u, " "); uri = u[1] }
      END { flush() }' "$f")"
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri="$(awk -v suite="$suite" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit } }' "$f")"
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  return 1
}

# ---- the Kubernetes build cache ----------------------------------------------------------------------
go_version() { go env GOVERSION 2>/dev/null || go version | awk '{print $3}'; }

# Bump when build.sh changes what it produces (flags, the binary list, pause).
BUILD_RECIPE="go build -trimpath -ldflags=-s -w +version; CGO_ENABLED=0; 6 binaries + etcd; pause gcc -Os -static; v1"
# k8s_key: Kubernetes version + Go version + a hash of the module (go.mod, go.sum, etcd/main.go)
# and the recipe: the cache key of the build.
k8s_key() {
  local h
  h="$({ cat "$K8S_MODULE_DIR/go.mod" "$K8S_MODULE_DIR/go.sum" "$K8S_MODULE_DIR/etcd/main.go"
    echo "$BUILD_RECIPE"; } | sha256sum | cut -c1-12)"
  echo "$K8S_VERSION-$(go_version)-$h"
}
k8s_bin_dir() { echo "$CACHE/k8s/$(k8s_key)"; }

# use_bin_dir DIR: take the binaries and the versions.sh that build.sh wrote into DIR.
use_bin_dir() {
  BIN="$1"
  [ -f "$BIN/.complete" ] || die "no complete build in $BIN (run hack/local-cluster/up)"
  # shellcheck source=/dev/null
  . "$BIN/versions.sh"
  PAUSE_IMAGE="readygate.local/pause:$PAUSE_VERSION"
}

ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
