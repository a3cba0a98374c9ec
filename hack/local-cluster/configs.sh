# shellcheck shell=bash
# Configuration files of the local cluster, rendered from templates/ into $CFG (and the admin
# kubeconfig). Sourced by up (after lib.sh and use_bin_dir).
#
# A template names a value as @NAME@ (never ${...}: TOML, JSON and YAML keep their own syntax);
# render fails on a @NAME@ that no shell variable of that name provides.

# render TEMPLATE OUT: write TEMPLATE with every @NAME@ replaced by $NAME, atomically.
render() {
  local tpl="$TEMPLATES/$1" out="$2" content name value
  content="$(<"$tpl")"
  for name in $(grep -o '@[A-Z][A-Z0-9_]*@' "$tpl" | tr -d @ | sort -u); do
    [ -n "${!name+x}" ] || die "template $tpl: @$name@ has no value"
    value="${!name}"
    content="${content//"@$name@"/"$value"}" # quoted: no & or \ expansion (bash 5.2)
  done
  printf '%s\n' "$content" >"$out.tmp"
  mv -f "$out.tmp" "$out"
}

# write_kubeconfig FILE CERT_NAME: a kubeconfig with the context $CLUSTER_NAME for that cert.
# shellcheck disable=SC2034  # CA_DATA, CERT_DATA, KEY_DATA: used by render as @CA_DATA@ etc.
write_kubeconfig() {
  local CA_DATA CERT_DATA KEY_DATA
  CA_DATA="$(base64 -w0 <"$PKI/ca.crt")"
  CERT_DATA="$(base64 -w0 <"$PKI/$2.crt")"
  KEY_DATA="$(base64 -w0 <"$PKI/$2.key")"
  (
    umask 077
    render kubeconfig.yaml "$1"
  )
}

write_configs() {
  mkdir -p "$CFG" "$CNI_CONF_DIR" "$CNI_IPAM_DIR" "$KUBELET_ROOT" "$CONTAINERD_ROOT" "$CONTAINERD_STATE"
  write_kubeconfig "$KUBECONFIG_ADMIN" admin
  local c
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    write_kubeconfig "$CFG/$c.kubeconfig" "$c"
  done
  render containerd.toml "$CFG/containerd.toml"
  render cni.conflist "$CNI_CONF_DIR/10-readygate.conflist"
  render pod-resolv.conf "$CFG/pod-resolv.conf"
  render kubelet.yaml "$CFG/kubelet.yaml"
  render kube-proxy.yaml "$CFG/kube-proxy.yaml"
}
