# shellcheck shell=bash
# The seven processes of the local cluster: how each starts (its command line), how each is
# known to be healthy, and the cluster's health as a whole. Sourced by up and restart, after
# lib.sh and use_bin_dir (BIN, PAUSE_IMAGE).

SA_ISSUER=https://kubernetes.default.svc.cluster.local

# ---- health ------------------------------------------------------------------------------------------
curl_api() { curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://$NODE_IP:$APISERVER_PORT$1"; }
# Ready, and reported by the kubelet running now: after a restart etcd still holds the old status.
node_ready() {
  local st hb since
  st="$(kubectl_ get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null)" || return 1
  hb="${st#* }"
  [ "${st%% *}" = True ] || return 1
  since="$(date -u -d "@$(stat -c %Y "$(pid_file kubelet)" 2>/dev/null || echo 0)" +%Y-%m-%dT%H:%M:%SZ)"
  [[ "$hb" > "$since" ]] || [ "$hb" = "$since" ]
}
# Pods need the namespace's default ServiceAccount (its token is a projected, TokenRequest one).
sa_ready() { kubectl_ -n default get serviceaccount default -o name >/dev/null 2>&1; }
all_alive() {
  local c
  for c in "${COMPONENTS[@]}"; do proc_alive "$c" || return 1; done
}
healthy() {
  all_alive && curl_api /readyz >/dev/null && node_ready && network_ok && sa_ready
}
# outdated: a component runs a binary other than the current build's (a new release was built).
outdated() {
  local c exe
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    [ -s "$(pid_file "$c")" ] || continue
    read -r _ exe <"$(pid_file "$c")"
    [ "$exe" = "$BIN/$c" ] || return 0
  done
  return 1
}

component_healthy() { # component_healthy NAME: its own health endpoint answers
  case "$1" in
    etcd) curl -sf --max-time 1 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" ;;
    kube-apiserver) curl_api /readyz ;;
    kube-controller-manager) curl -skf --max-time 1 https://127.0.0.1:10257/healthz ;;
    kube-scheduler) curl -skf --max-time 1 https://127.0.0.1:10259/healthz ;;
    containerd) ctr_ version ;;
    kubelet) curl -sf --max-time 1 http://127.0.0.1:10248/healthz && node_ready ;;
    kube-proxy) curl -sf --max-time 1 http://127.0.0.1:10256/healthz &&
      iptables -t nat -n -L KUBE-SERVICES ;;
  esac
}

# Collect the logs' last lines when something does not come up.
on_error() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if ! proc_alive "$c" && [ -f "$LOGS/$c.log" ]; then
      warn "$c is not running; last lines of $LOGS/$c.log:"
      tail -n 15 "$LOGS/$c.log" >&2 || true
    fi
  done
}

# ---- etcd data -------------------------------------------------------------------------------------------
# etcd data written by another Kubernetes minor (or by the 1.20 cluster this one replaced) is
# not carried over: etcd upgrades one minor at a time and the objects' stored versions differ.
# It is a throw-away test cluster, so the data starts afresh (certificates and images stay).
ensure_etcd_data_version() {
  local want have
  want="kubernetes ${K8S_VERSION%.*} etcd ${ETCD_VERSION%.*}"
  have="$(cat "$DATA_VERSION_FILE" 2>/dev/null || true)"
  if [ -d "$STATE/etcd" ] && [ "$have" != "$want" ]; then
    log "etcd data in $STATE/etcd was written by ${have:-an older cluster (Kubernetes 1.20, etcd 3.4)}: starting with empty data for $want"
    rm -rf --one-file-system "${STATE:?}/etcd"
  fi
  echo "$want" >"$DATA_VERSION_FILE"
}

# ---- components ----------------------------------------------------------------------------------------------
start_etcd() {
  proc_alive etcd && return 0
  start_proc etcd "$BIN/etcd" --name readygate --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "readygate=http://127.0.0.1:$ETCD_PEER_PORT" \
    --auto-compaction-mode periodic --auto-compaction-retention 1h \
    --log-level warn
}

start_apiserver() {
  proc_alive kube-apiserver && return 0
  # No insecure port (gone since 1.24); service-account tokens are signed by sa.key with this
  # issuer; Pod Security Admission is built in (no PodSecurityPolicy since 1.25).
  start_proc kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$PKI/kube-apiserver.crt" --tls-private-key-file "$PKI/kube-apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer "$SA_ISSUER" \
    --api-audiences "$SA_ISSUER" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --allow-privileged=true \
    --profiling=false \
    --event-ttl 1h \
    --v 1
}

start_controller_manager() {
  proc_alive kube-controller-manager && return 0
  start_proc kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$CFG/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CFG/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$CFG/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --allocate-node-cidrs=false --cluster-cidr "$POD_CIDR" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --profiling=false --v 1
}

start_scheduler() {
  proc_alive kube-scheduler && return 0
  start_proc kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$CFG/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$CFG/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$CFG/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false --v 1
}

start_containerd() {
  proc_alive containerd && return 0
  start_proc containerd "$(command -v containerd)" --config "$CFG/containerd.toml"
}

start_kubelet() {
  proc_alive kubelet && return 0
  # The runtime endpoint is in kubelet.yaml (containerRuntimeEndpoint; --container-runtime is
  # gone), the sandbox image in containerd.toml (--pod-infra-container-image is gone).
  start_proc kubelet "$BIN/kubelet" \
    --config "$CFG/kubelet.yaml" \
    --kubeconfig "$CFG/kubelet.kubeconfig" \
    --root-dir "$KUBELET_ROOT" \
    --cert-dir "$KUBELET_ROOT/pki" \
    --hostname-override "$NODE_NAME" \
    --node-ip "$NODE_IP" \
    --v 1
}

start_kube_proxy() {
  proc_alive kube-proxy && return 0
  start_proc kube-proxy "$BIN/kube-proxy" --config "$CFG/kube-proxy.yaml" --v 1
}

start_fn_of() { # the start_* function of a component
  case "$1" in
    etcd) echo start_etcd ;;
    kube-apiserver) echo start_apiserver ;;
    kube-controller-manager) echo start_controller_manager ;;
    kube-scheduler) echo start_scheduler ;;
    containerd) echo start_containerd ;;
    kubelet) echo start_kubelet ;;
    kube-proxy) echo start_kube_proxy ;;
    *) return 1 ;;
  esac
}
