#!/usr/bin/env bash
# Make sure the six Kubernetes binaries and the pause binary are in the build cache:
#   $CACHE/k8s/<source version>-p<patch-set hash>-<go version>/
# Cold: apt-get source (Debian's kubernetes 1.20 tree, with vendor/), the three patches
# (k8s-patches.sh), one `make` of all six (providerless, ~200 s on 2 cores, ~1.3 GB RSS),
# gcc -static pause. Warm: returns at once, without even apt-get source.
# Prints the binary directory on stdout. Build log: $CACHE/k8s/build.log.
set -euo pipefail
LC_PROG=k8s-build
# shellcheck source=hack/local-cluster/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
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

command -v go >/dev/null || die "go not found (apt-get install golang-go)"
t0=$(date +%s)
src="$CACHE/k8s/src"
dsc="$src/${K8S_SRC_PKG}_${K8S_SRC_VERSION}.dsc"
mkdir -p "$src"
if [ ! -f "$dsc" ]; then
  log "apt-get source $K8S_SRC_PKG=$K8S_SRC_VERSION (needs a bookworm deb-src entry)"
  (cd "$src" && apt-get source --download-only "$K8S_SRC_PKG=$K8S_SRC_VERSION" >&2) ||
    die "apt-get source failed; is there a 'deb-src' entry for bookworm? (up adds one)"
fi
build="$CACHE/k8s/build"
rm -rf "$build"   # a build killed half-way leaves a tree that is not trustworthy
log "unpacking the source into $build"
dpkg-source --no-check -x "$dsc" "$build" >/dev/null
rm -f "$CACHE/k8s/${K8S_SRC_PKG}_"*.orig.tar.* # dpkg-source copies it next to the tree
"$LC_DIR/k8s-patches.sh" "$build"

buildlog="$CACHE/k8s/build.log"
log "building ${BINS[*]} (go $(go_version), providerless; ~200 s cold on 2 cores); log: $buildlog"
what=""
for b in "${BINS[@]}"; do what+="cmd/$b "; done
(
  cd "$build"
  export CGO_ENABLED=0 GOFLAGS=-tags=providerless GOCACHE="$build/.gocache" HOME="$build/.home"
  mkdir -p "$HOME"
  make WHAT="${what% }" GOFLAGS=-tags=providerless
) >"$buildlog" 2>&1 &
mpid=$!
while kill -0 "$mpid" 2>/dev/null; do
  sleep 15
  kill -0 "$mpid" 2>/dev/null && log "  still building ($(($(date +%s) - t0)) s; last: $(tail -n1 "$buildlog" | cut -c1-100))"
done
wait "$mpid" || { tail -n 30 "$buildlog" >&2; die "make failed; see $buildlog"; }

tmp="$bin_dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
for b in "${BINS[@]}"; do
  cp "$build/_output/local/bin/linux/amd64/$b" "$tmp/$b" 2>/dev/null ||
    cp "$build/_output/bin/$b" "$tmp/$b"
done
log "compiling pause (gcc -static)"
gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-readygate" -o "$tmp/pause" "$build/build/pause/linux/pause.c"
"$tmp/kubectl" version --client --short >&2 2>/dev/null || true
touch "$tmp/.complete"
rm -rf "$bin_dir"
mv "$tmp" "$bin_dir"
rm -rf "$build"
log "build done in $(($(date +%s) - t0)) s -> $bin_dir"
echo "$bin_dir"
