#!/usr/bin/env bash
# Apply the three patches the local cluster needs to a Debian kubernetes 1.20 source tree.
# Usage: k8s-patches.sh SOURCE_TREE. Idempotent. The hash of this file is part of the build
# cache key, so editing it triggers a rebuild. Why each patch: shared/docs/local-cluster.md.
set -euo pipefail

tree="${1:?usage: k8s-patches.sh SOURCE_TREE}"
cd "$tree"
say() { echo "[k8s-patches] $*" >&2; }

# 1. vendor/github.com/modern-go/reflect2 v1.0.1 crashes at runtime with Go >= 1.18
#    ("unexpected fault address" in runtime.mapiterinit via jsoniter): use Debian's 1.0.2.
new=/usr/share/gocode/src/github.com/modern-go/reflect2
old=vendor/github.com/modern-go/reflect2
[ -f "$new/go_above_118.go" ] || { say "missing $new (install golang-github-modern-go-reflect2-dev)"; exit 1; }
find "$old" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
cp "$new"/*.go "$new"/*.s "$old"/
say "1/3 reflect2 replaced by Debian's $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev 2>/dev/null || echo copy)"

# 2. The kubelet must never probe cloud metadata services (169.254.169.254 & co).
sed -i -E '/^[[:space:]]*_ "k8s\.io\/kubernetes\/pkg\/credentialprovider\/(aws|azure|gcp)"/d' \
  cmd/kubelet/app/plugins.go
sed -i -E '/^[[:space:]]*_ "github\.com\/google\/cadvisor\/utils\/cloudinfo\/(aws|azure|gce)"/d' \
  pkg/kubelet/cadvisor/cadvisor_linux.go
if grep -Eq 'credentialprovider/(aws|azure|gcp)"' cmd/kubelet/app/plugins.go ||
  grep -Eq 'cloudinfo/(aws|azure|gce)"' pkg/kubelet/cadvisor/cadvisor_linux.go; then
  say "2/3 failed: cloud provider imports still present"; exit 1
fi
say "2/3 cloud credential providers and cloudinfo probes removed from the kubelet"

# 3. cadvisor waits 5 s for a Docker daemon at every kubelet start.
f=vendor/github.com/google/cadvisor/container/docker/factory.go
sed -i -E 's/^const rootDirRetries = [0-9]+/const rootDirRetries = 0/' "$f"
grep -q '^const rootDirRetries = 0' "$f" || { say "3/3 failed: rootDirRetries not patched"; exit 1; }
say "3/3 cadvisor docker rootDirRetries = 0"
