#!/bin/sh
# The pod network of a kind-format node, run by the DaemonSet in /kind/manifests/default-cni.yaml
# through chroot into the node (it uses the node's kubectl, ip and iptables). It stands in for
# kindnetd, whose Go module is not served here: the node's bridge CNI config on its own pod CIDR,
# a route to every other node's pod CIDR via that node's address, and one masquerade rule for
# pod traffic leaving the cluster's pod subnet. It reconciles until the pod is stopped.
set -u
NODE=${NODE_NAME:?NODE_NAME unset}
SUBNET=${POD_SUBNET:?POD_SUBNET unset}
# Nodes may read only their own Node object, so the kubelet's credentials will not do: the pod
# passes its service account token (allowed to list nodes) and this node's kubeconfig names the
# API server and its CA.
TOKEN=${TOKEN:?TOKEN unset}
NODE_KUBECONFIG=${NODE_KUBECONFIG:-/etc/kubernetes/kubelet.conf}
KUBECONFIG=${KUBECONFIG:-/run/nestkube-pod-network/kubeconfig}
TEMPLATE=${TEMPLATE:-/kind/pod-network/bridge.conflist}
PLACEHOLDER=${PLACEHOLDER:?PLACEHOLDER unset}
CONF=${CONF:-/etc/cni/net.d/10-nestkube-pod-network.conflist}
COMMENT="nestkube: masquerade pod traffic leaving the cluster pod network"
ONCE=${ONCE:-}

log() { echo "pod-network: $*" >&2; }

write_kubeconfig() {
  server=$(kubectl config view --kubeconfig "$NODE_KUBECONFIG" --raw \
    -o jsonpath='{.clusters[0].cluster.server}') || return 1
  ca=$(kubectl config view --kubeconfig "$NODE_KUBECONFIG" --raw \
    -o jsonpath='{.clusters[0].cluster.certificate-authority-data}') || return 1
  mkdir -p "$(dirname "$KUBECONFIG")" && chmod 0700 "$(dirname "$KUBECONFIG")" || return 1
  cat >"$KUBECONFIG" <<END
apiVersion: v1
kind: Config
clusters: [{name: cluster, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: pod-network, user: {token: "$TOKEN"}}]
contexts: [{name: pod-network, context: {cluster: cluster, user: pod-network}}]
current-context: pod-network
END
}

# name, pod CIDR and InternalIP of every node, one node a line.
nodes() {
  kubectl --kubeconfig "$KUBECONFIG" get nodes --request-timeout=10s -o \
    jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}'
}

reconcile() {
  list=$(nodes) || return 1
  echo "$list" | while read -r name cidr address; do
    [ -n "$cidr" ] || continue
    if [ "$name" = "$NODE" ]; then
      if ! grep -qF "\"$cidr\"" "$CONF" 2>/dev/null; then
        # Written to a temporary name and renamed: containerd must never read half a file.
        sed "s#$PLACEHOLDER#$cidr#" "$TEMPLATE" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF" &&
          log "CNI config for $cidr written"
      fi
      rule="POSTROUTING -s $cidr ! -d $SUBNET -m comment --comment"
      # shellcheck disable=SC2086
      iptables -w -t nat -C $rule "$COMMENT" -j MASQUERADE 2>/dev/null ||
        iptables -w -t nat -A $rule "$COMMENT" -j MASQUERADE
    elif [ -n "$address" ]; then
      ip route replace "$cidr" via "$address"
    fi
  done
  [ -s "$CONF" ]
}

# Poll quickly until this node has its CNI config (the node turns Ready on it), then slowly
# to follow nodes that join or come back with new addresses.
until write_kubeconfig; do
  [ -n "$ONCE" ] && exit 1
  sleep 1
done
until reconcile; do
  [ -n "$ONCE" ] && exit 1
  sleep 1
done
[ -n "$ONCE" ] && exit 0
while :; do
  sleep 10
  reconcile || log "reconcile failed; retrying"
done
