# shellcheck shell=bash
# Common settings and helpers for hack/local-cluster/{up,down,images}. Sourced, not executed.
# Facts behind the choices: shared/docs/local-cluster.md and README.md beside this file.

# ---- paths ---------------------------------------------------------------------------------
LC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LC_DIR/../.." && pwd)"
STATE="${READYGATE_CLUSTER_STATE:-$HOME/.local/state/readygate/cluster}"
CACHE="${READYGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate}"

# ---- versions --------------------------------------------------------------------------------
K8S_SRC_PKG=kubernetes
K8S_SRC_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
K8S_GIT_VERSION="v1.20.2"
PAUSE_VERSION="3.4.1"

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
CLUSTER_NAME=readygate-local

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
PAUSE_IMAGE="readygate.local/pause:$PAUSE_VERSION"

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

# Never let anything probe a cloud metadata service.
export AWS_EC2_METADATA_DISABLED=true

# ---- logging -------------------------------------------------------------------------------------
_T0=$(date +%s.%N)
log() { printf '[%s %6.1fs] %s\n' "${LC_PROG:-local-cluster}" "$(_elapsed)" "$*" >&2; }
warn() { printf '[%s %6.1fs] WARNING: %s\n' "${LC_PROG:-local-cluster}" "$(_elapsed)" "$*" >&2; }
die() {
  printf '[%s %6.1fs] ERROR: %s\n' "${LC_PROG:-local-cluster}" "$(_elapsed)" "$*" >&2
  if declare -F on_error >/dev/null; then on_error || true; fi
  exit 1
}
_elapsed() { awk -v a="$_T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it creates network devices, mounts and cgroups)"; }

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

# ---- the Kubernetes build cache ----------------------------------------------------------------------
go_version() { go env GOVERSION 2>/dev/null || go version | awk '{print $3}'; }

# Bump when k8s-build.sh changes what it produces (e.g. make flags, the binary list).
K8S_BUILD_RECIPE="make WHAT=6 binaries CGO_ENABLED=0 GOFLAGS=-tags=providerless; pause gcc -Os -static; v1"
# k8s_key: source version + patch-set hash + Go version (the cache key of the six binaries).
k8s_key() {
  local patch_hash
  patch_hash="$({ cat "$LC_DIR/k8s-patches.sh"; echo "$K8S_BUILD_RECIPE"; } | sha256sum | cut -c1-12)"
  echo "${K8S_SRC_VERSION//[^A-Za-z0-9.-]/_}-p${patch_hash}-$(go_version)"
}
k8s_bin_dir() { echo "$CACHE/k8s/$(k8s_key)"; }

ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
kubectl_() { "$(k8s_bin_dir)/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
