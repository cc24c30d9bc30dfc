#!/bin/sh
# Turns a container of a nestkube node image into a kind-format node: kind's /kind files, the
# kubelet drop-in, containerd's config for the systemd cgroup driver, and the pod-network image
# imported into containerd's k8s.io store beside the images the node image preloads.
set -eu
IN=/nestkube-in

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

containerd --config /etc/containerd/config.toml >/tmp/containerd.log 2>&1 &
pid=$!
i=0
until ctr version >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then cat /tmp/containerd.log; exit 1; fi
  sleep 0.1
done
for archive in "$IN"/images/*.tar; do
  ctr -n k8s.io images import --no-unpack --all-platforms "$archive" >/dev/null
done
ctr -n k8s.io images ls -q | grep -v '^sha256:' | sort >/etc/nestkube/preloaded-images
kill "$pid"
wait "$pid" || true
rm -rf /tmp/containerd.log /run/containerd /var/lib/containerd/tmpmounts
