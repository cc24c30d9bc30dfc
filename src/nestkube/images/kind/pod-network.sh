#!/bin/sh
# The pod network of a kind-format node, run by the DaemonSet in /kind/manifests/default-cni.yaml
# through chroot into the node. It stands in for kindnetd, whose Go module is not served here,
# and is nestkube's own pod network agent, nestkube-netd (in every nestkube node image), with
# the inputs that nestkube's create writes for it made here instead: the node's pod CIDR is the
# one kind's controller manager assigns, so they are made once the Node has it. nestkube-netd
# then keeps the node's bridge CNI config, a route to every other node's pod CIDR via that
# node's address (and none via a node that is gone) and one masquerade rule for pod traffic
# leaving the cluster's pod subnet, until the pod is stopped.
set -u
NODE=${NODE_NAME:?NODE_NAME unset}
SUBNET=${POD_SUBNET:?POD_SUBNET unset}
# Nodes may read only their own Node object, so the kubelet's credentials will not do: the pod
# passes its service account token (allowed to list and watch nodes) and this node's
# kubeconfig names the API server and its CA.
TOKEN=${TOKEN:?TOKEN unset}
NODE_KUBECONFIG=${NODE_KUBECONFIG:-/etc/kubernetes/kubelet.conf}
# netd's inputs and its own files; not /etc/nestkube, where nestkube's create would start the
# node's netd service (nestkube-netd.path).
RUN=${RUN:-/run/nestkube-pod-network}
TEMPLATE=${TEMPLATE:-/kind/pod-network/bridge.conflist}
PLACEHOLDER=${PLACEHOLDER:?PLACEHOLDER unset}
CONF=${CONF:-/etc/cni/net.d/10-nestkube-pod-network.conflist}
NETD=${NETD:-/usr/local/bin/nestkube-netd}
COMMENT="nestkube: masquerade pod traffic leaving the cluster pod network"
ONCE=${ONCE:-}

log() { echo "pod-network: $*" >&2; }

# netd's kubeconfig, one "key: value" a line as it reads them.
write_kubeconfig() {
  server=$(kubectl config view --kubeconfig "$NODE_KUBECONFIG" --raw \
    -o jsonpath='{.clusters[0].cluster.server}') || return 1
  ca=$(kubectl config view --kubeconfig "$NODE_KUBECONFIG" --raw \
    -o jsonpath='{.clusters[0].cluster.certificate-authority-data}') || return 1
  mkdir -p "$RUN" && chmod 0700 "$RUN" || return 1
  cat >"$RUN/netd.kubeconfig" <<END
apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: pod-network
  user:
    token: $TOKEN
contexts:
- name: pod-network
  context:
    cluster: cluster
    user: pod-network
current-context: pod-network
END
}

# This node's pod CIDR, once the controller manager has assigned it.
pod_cidr() {
  kubectl --kubeconfig "$RUN/netd.kubeconfig" get node "$NODE" --request-timeout=10s \
    -o jsonpath='{.spec.podCIDR}'
}

# Polls quickly until the kubeconfig and the pod CIDR are there (the node turns Ready once
# netd has written its CNI config).
until write_kubeconfig; do
  [ -n "$ONCE" ] && exit 1
  sleep 1
done
until cidr=$(pod_cidr) && [ -n "$cidr" ]; do
  [ -n "$ONCE" ] && exit 1
  sleep 1
done
log "this node's pod CIDR is $cidr"
sed "s#$PLACEHOLDER#$cidr#" "$TEMPLATE" >"$RUN/cni.conflist" || exit 1
printf '%s\n' iptables -w -t nat -A POSTROUTING -s "$cidr" ! -d "$SUBNET" -m comment \
  --comment "$COMMENT" -j MASQUERADE >"$RUN/masquerade.args" || exit 1
printf 'NODE_NAME=%s\nPOD_CIDR=%s\nPOD_SUBNET=%s\n' "$NODE" "$cidr" "$SUBNET" \
  >"$RUN/pod-network.env" || exit 1

# The pod's own: no admin.conf (the controller manager assigns every node its pod CIDR).
export NESTKUBE_ETC="$RUN" NESTKUBE_RUN="$RUN" NESTKUBE_CNI_TARGET="$CONF" \
  NESTKUBE_KUBECONFIG="$RUN/netd.kubeconfig" NESTKUBE_ADMIN_CONF="$RUN/no-admin.conf"
if [ -n "$ONCE" ]; then exec "$NETD" --once; fi
exec "$NETD"
