# shellcheck shell=bash
# Certificates of the local cluster (openssl): one CA, a cert per component, the API server's
# serving cert, the kubelet's serving cert, the service-account signing key pair.
# Sourced by up (after lib.sh). Regenerated only when the node name or an address changes.

# mkcert NAME CN ORG(or "") EXTKEYUSAGE SAN(or "")
mkcert() {
  local name="$1" cn="$2" org="$3" eku="$4" san="$5" subj
  subj="/CN=$cn"
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$PKI/$name.ext" \
    -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

ensure_certs() {
  local fp
  fp="$NODE_NAME $NODE_IP $SERVICE_IP_KUBERNETES v1"
  if [ -f "$PKI/.complete" ] && [ "$(cat "$PKI/.complete")" = "$fp" ]; then return 0; fi
  log "generating certificates in $PKI"
  rm -rf "$PKI"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=readygate-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
  mkcert kube-apiserver kube-apiserver "" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$SERVICE_IP_KUBERNETES,IP:$NODE_IP"
  mkcert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth ""
  mkcert admin readygate-admin system:masters clientAuth ""
  mkcert kubelet "system:node:$NODE_NAME" system:nodes clientAuth ""
  mkcert kubelet-server "$NODE_NAME" "" serverAuth "DNS:$NODE_NAME,IP:$NODE_IP,IP:127.0.0.1"
  mkcert kube-controller-manager system:kube-controller-manager "" clientAuth ""
  mkcert kube-scheduler system:kube-scheduler "" clientAuth ""
  mkcert kube-proxy system:kube-proxy "" clientAuth ""
  # service-account tokens: the API server signs with sa.key (--service-account-signing-key-file)
  # and verifies with sa.pub; the controller-manager signs the legacy ones with sa.key too.
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  echo "$fp" >"$PKI/.complete"
}
