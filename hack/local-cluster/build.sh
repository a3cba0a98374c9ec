#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Make sure the cluster's binaries are in the build cache and print their directory:
#   $CACHE/k8s/<kubernetes version>-<go version>-<hash of hack/k8s-build and the recipe>/
#     kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl etcd pause
#     versions.sh  (K8S_VERSION, ETCD_VERSION, PAUSE_VERSION of what was built)
# Cold: `go build` of hack/k8s-build's tools (k8s.io/kubernetes at the release its go.mod pins,
# every staging module replaced by its published v0.x.y) and of its ./etcd (etcdmain.Main of
# go.etcd.io/etcd/server/v3), from the machine's Go module proxy (GOPROXY as configured on the
# machine); pause from the module's build/pause/linux/pause.c with gcc -static.
# GOMODCACHE and GOCACHE live under $CACHE/go, so a warm run (same key) returns at once and a
# key change (a new Go, a new release) recompiles only what changed.
# Build log: $CACHE/k8s/build.log.
set -euo pipefail
LC_PROG=build
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOLS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

command -v go >/dev/null || die "go not found: install Go >= $(awk '$1 == "go" {print $2}' "$K8S_MODULE_DIR/go.mod")"
bin_dir="$(k8s_bin_dir)"
complete() { [ -f "$bin_dir/.complete" ]; }
if complete; then echo "$bin_dir"; exit 0; fi

mkdir -p "$CACHE/k8s"
exec 9>"$CACHE/k8s/.build.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/k8s/.build.lock; waiting for it"
  flock 9
fi
if complete; then echo "$bin_dir"; exit 0; fi

# The Go environment of the build: caches under $CACHE, the module graph exactly as go.mod and
# go.sum say (-mod=readonly: a missing or wrong go.sum line is an error, never an edit), no cgo.
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw -buildvcs=false"
want_go="$(awk '$1 == "go" {print $2}' "$K8S_MODULE_DIR/go.mod")"
have_go="$(go_version)"
if [ "$(printf '%s\n%s\n' "go$want_go" "$have_go" | sort -V | head -n1)" = "go$want_go" ]; then
  export GOTOOLCHAIN=local
else
  # An older Go on the machine: the proxy serves the toolchain go.mod asks for.
  export GOTOOLCHAIN="go$want_go"
  warn "the machine's $have_go is older than the go $want_go that $K8S_VERSION needs: GOTOOLCHAIN=$GOTOOLCHAIN"
fi

t0=$(date +%s)
buildlog="$CACHE/k8s/build.log"
tmp="$bin_dir.tmp.$$"
rm -rf "$tmp" "$CACHE/k8s/"*.tmp.*
mkdir -p "$tmp"
ldflags="-s -w"
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
pkgs=()
for b in "${TOOLS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
log "building ${TOOLS[*]} $K8S_VERSION and etcd $ETCD_VERSION with $(GOTOOLCHAIN=$GOTOOLCHAIN go_version)"
log "  (cold: module download ~20 s, compile ~12 min on 2 cores; Go caches warm: ~30 s); log: $buildlog"
(
  cd "$K8S_MODULE_DIR"
  go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}" ./etcd
) >"$buildlog" 2>&1 &
bpid=$!
while kill -0 "$bpid" 2>/dev/null; do
  for _ in $(seq 1 30); do kill -0 "$bpid" 2>/dev/null && sleep 1; done
  kill -0 "$bpid" 2>/dev/null && log "  still building ($(($(date +%s) - t0)) s)"
done
wait "$bpid" || { tail -n 30 "$buildlog" >&2; rm -rf "$tmp"; die "go build failed; see $buildlog"; }

kdir="$(cd "$K8S_MODULE_DIR" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)"
pause_version="$(awk '$1 == "TAG" && $2 == "?=" {print $3; exit}' "$kdir/build/pause/Makefile")"
[ -n "$pause_version" ] || die "no TAG in $kdir/build/pause/Makefile"
log "compiling pause $pause_version (gcc -static)"
gcc -Os -Wall -Werror -static -DVERSION="v$pause_version-readygate" -o "$tmp/pause" "$kdir/build/pause/linux/pause.c"
cat >"$tmp/versions.sh" <<EOF
# written by hack/local-cluster/build.sh
K8S_VERSION=$K8S_VERSION
ETCD_VERSION=$ETCD_VERSION
PAUSE_VERSION=$pause_version
BUILT_WITH=$(GOTOOLCHAIN=$GOTOOLCHAIN go_version)
EOF
"$tmp/kubectl" version --client >&2 || die "the built kubectl does not run"
"$tmp/etcd" --version >&2 || die "the built etcd does not run"
touch "$tmp/.complete"
rm -rf "$bin_dir"
mv "$tmp" "$bin_dir"
# older builds (other keys) are superseded; keep the Go caches, they make the next build fast
find "$CACHE/k8s" -mindepth 1 -maxdepth 1 -type d ! -name "$(basename "$bin_dir")" -exec rm -rf {} +
log "build done in $(($(date +%s) - t0)) s -> $bin_dir ($(du -sm "$bin_dir" | cut -f1) MB)"
echo "$bin_dir"
