#!/bin/sh
# Turns a container of a nestkube node image into a kind-format node: kind's /kind files, the
# kubelet drop-in, containerd's config for the systemd cgroup driver, and the pod-network image
# imported into containerd's k8s.io store beside the images the node image preloads.
set -eu
IN=/nestkube-in

# The pod network's launcher runs the node image's own agent.
if [ ! -x /usr/local/bin/nestkube-netd ]; then
  echo "install.sh: the base image has no /usr/local/bin/nestkube-netd (rebuild the node image)" >&2
  exit 1
fi
mkdir -p /kind/bin /kind/manifests /kind/pod-network
# kind reads the Kubernetes release from /kind/version; the node image records it here.
cp /etc/nestkube/version /kind/version
install -m 0644 "$IN/default-cni.yaml" "$IN/default-storage.yaml" /kind/manifests/
install -m 0644 "$IN/bridge.conflist" /kind/pod-network/bridge.conflist
install -m 0755 "$IN/pod-network.sh" /kind/bin/nestkube-pod-network
install -m 0755 "$IN/kubelet-cgroups.sh" /kind/bin/kubelet-cgroups
install -m 0755 "$IN/entrypoint.sh" /usr/local/bin/nestkube-kind-entrypoint
install -D -m 0644 "$IN/11-kind-cgroups.conf" \
  /etc/systemd/system/kubelet.service.d/11-kind-cgroups.conf
install -m 0644 "$IN/containerd.toml" /etc/containerd/config.toml

sh "$IN/preload-images.sh" "$IN/images"
