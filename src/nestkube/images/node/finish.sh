#!/bin/sh
# Phase two of a node image build: Kubernetes binaries, units, containerd config, and the
# component images imported into containerd's k8s.io store so cluster creation imports nothing.
set -eu
IN=/nestkube-in
OUT=/nestkube-out

install -m 0755 "$IN/bin/kubeadm" "$IN/bin/kubelet" "$IN/bin/kubectl" /usr/bin/
install -D -m 0644 "$IN/files/kubelet.service" /etc/systemd/system/kubelet.service
install -D -m 0644 "$IN/files/10-kubeadm.conf" /etc/systemd/system/kubelet.service.d/10-kubeadm.conf
install -D -m 0644 "$IN/files/containerd.toml" /etc/containerd/config.toml
install -D -m 0644 "$IN/files/crictl.yaml" /etc/crictl.yaml
# PID 1 of every node: makes its machine-id and product_uuid, then execs /sbin/init.
install -m 0755 "$IN/entrypoint.sh" /usr/local/bin/nestkube-entrypoint
# The pod network agent; its path unit starts it once create has configured the node.
install -m 0755 "$IN/nestkube-netd" /usr/local/bin/nestkube-netd
install -D -m 0644 "$IN/files/nestkube-netd.service" /etc/systemd/system/nestkube-netd.service
install -D -m 0644 "$IN/files/nestkube-netd.path" /etc/systemd/system/nestkube-netd.path
mkdir -p /etc/nestkube /etc/cni/net.d /opt/cni/bin /var/lib/kubelet /etc/kubernetes/manifests
if [ -d "$IN/runtime" ]; then
  # containerd 2, runc, the CNI plugins and crictl built from their Go modules.
  for cmd in containerd containerd-shim-runc-v2 ctr crictl; do
    install -m 0755 "$IN/runtime/bin/$cmd" /usr/local/bin/
  done
  install -m 0755 "$IN/runtime/bin/runc" /usr/local/sbin/runc
  install -m 0755 "$IN"/runtime/cni/* /opt/cni/bin/
  install -D -m 0644 "$IN/files/containerd.service" /etc/systemd/system/containerd.service
else
  # Debian puts the CNI plugins under /usr/lib/cni; containerd and kubelet look in /opt/cni/bin.
  for plugin in /usr/lib/cni/*; do ln -sf "$plugin" /opt/cni/bin/; done
fi

systemctl enable containerd.service kubelet.service nestkube-netd.path >/dev/null 2>&1
# Nothing on a node needs a login prompt, and these units fail in containers.
systemctl mask getty.target console-getty.service systemd-udevd.service \
  systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
  sys-kernel-debug.mount sys-kernel-tracing.mount >/dev/null 2>&1 || true

# The component images into containerd's store, so cluster creation imports nothing.
sh "$IN/preload-images.sh" "$OUT/images"

cp "$IN/files/version" /etc/nestkube/version
cp "$IN/files/components" /etc/nestkube/components
# Addon manifests create applies from the node (MetalLB's, of the release its images are).
if [ -d "$IN/files/manifests" ]; then
  install -D -m 0644 -t /etc/nestkube/manifests "$IN"/files/manifests/*
fi
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
  /usr/share/locale/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old
# No machine-id in the image: each node container makes its own at first boot.
: >/etc/machine-id
