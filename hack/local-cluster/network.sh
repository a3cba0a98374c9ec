# shellcheck shell=bash
# The host side of the cluster network: the node IP on lo, sysctls (saved once, restored by
# down), and the guards that keep pod traffic on this machine. Sourced by up and restart.
# down undoes all of it (clean_iptables / clean_network / restore_sysctls there).

network_ok() { ip -4 addr show dev lo | grep -qF " $NODE_IP/32 "; }

save_sysctls() {
  [ -s "$SYSCTL_SAVED" ] && return 0 # first start only: a killed session keeps the originals
  local k v
  mkdir -p "$STATE"
  : >"$SYSCTL_SAVED.tmp"
  for k in "${SAVED_SYSCTLS[@]}"; do
    v="$(sysctl -n "$k" 2>/dev/null)" || continue
    echo "$k=$v" >>"$SYSCTL_SAVED.tmp"
  done
  mv "$SYSCTL_SAVED.tmp" "$SYSCTL_SAVED"
  log "saved host sysctls to $SYSCTL_SAVED"
}

# Idempotent; called again after kube-proxy and the kubelet (re)write their chains.
ensure_forward_rules() {
  local spec=(-s "$POD_CIDR" ! -o "$BRIDGE" -m comment --comment readygate-local -j DROP)
  # filter FORWARD: first, above kube-proxy's and kubelet's chains (re-inserted after they start)
  while iptables -D FORWARD "${spec[@]}" 2>/dev/null; do :; done
  iptables -I FORWARD 1 "${spec[@]}"
  # mangle FORWARD runs before filter and nobody else touches it: the same drop, order-proof
  iptables -t mangle -C FORWARD "${spec[@]}" 2>/dev/null || iptables -t mangle -I FORWARD 1 "${spec[@]}"
  # Host-originated packets to a Service IP that kube-proxy did not DNAT (not synced yet, or
  # stopped) would follow the default route out of the machine. filter OUTPUT runs after nat
  # OUTPUT, so whatever is still addressed to the service range there is refused.
  iptables -C OUTPUT -d "$SERVICE_CIDR" -m comment --comment readygate-local -j REJECT 2>/dev/null ||
    iptables -I OUTPUT 1 -d "$SERVICE_CIDR" -m comment --comment readygate-local -j REJECT
  # A pod IP while the bridge is gone: an `unreachable` route for the whole pod range, which the
  # bridge's more specific route overrides while it exists. (Not an OUTPUT rule on the out
  # device: for a ClusterIP DNATed to a pod, filter OUTPUT still sees the device of the route to
  # the Service IP, so such a rule would refuse every Service connection from the host.)
  ip route replace unreachable "$POD_CIDR" metric 4242
  # pods have no IPv6 address or route out, but make sure (first, like the IPv4 rule)
  local spec6=(-i "$BRIDGE" -m comment --comment readygate-local -j DROP)
  while ip6tables -D FORWARD "${spec6[@]}" 2>/dev/null; do :; done
  ip6tables -I FORWARD 1 "${spec6[@]}" 2>/dev/null || true
}

setup_network() {
  save_sysctls
  network_ok || ip addr add "$NODE_IP/32" dev lo
  sysctl -q -w net.ipv4.ip_forward=1
  # Service traffic between pods on the same bridge needs br_netfilter.
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null || true
  sysctl -q -w net.bridge.bridge-nf-call-iptables=1 2>/dev/null ||
    warn "net.bridge.bridge-nf-call-iptables unavailable: pod -> ClusterIP -> pod on the same node may fail"
  ensure_forward_rules
}

# The node's podCIDR: set directly rather than by the controller-manager's nodeipam controller,
# whose start-up waits a fixed 10 s (and delays every other controller).
ensure_pod_cidr() {
  local cur
  cur="$(kubectl_ get node "$NODE_NAME" -o 'jsonpath={.spec.podCIDR}')"
  [ -n "$cur" ] && return 0
  kubectl_ patch node "$NODE_NAME" --type merge \
    -p "{\"spec\":{\"podCIDR\":\"$NODE_POD_CIDR\",\"podCIDRs\":[\"$NODE_POD_CIDR\"]}}" >/dev/null
}
