#!/bin/sh
# Phase three of a CRI-O node image build, after finish.sh: CRI-O replaces containerd as the
# node's runtime. crio, pinns and crictl come from the kit; conmon and skopeo are Debian's
# (installed by prepare.sh). The component images cannot be unpacked into containers/storage
# here (its overlay driver needs a mount the build container may not make), so they are kept
# as archives and copied into the store by nestkube-crio-preload at the node's first boot.
set -eu
IN=/nestkube-in
OUT=/nestkube-out

install -m 0755 "$IN/crio/bin/crio" "$IN/crio/bin/pinns" /usr/local/bin/
install -m 0755 "$IN/crio/nestkube-crio-preload" /usr/local/bin/
install -m 0755 "$IN/crio/nestkube-runc" /usr/local/bin/
ln -sf nestkube-runc /usr/local/bin/nestkube-runc-oom
install -D -m 0644 "$IN/crio/10-nestkube.conf" /etc/crio/crio.conf.d/10-nestkube.conf
if [ -e "$IN/crio/11-pause.conf" ]; then
  install -m 0644 "$IN/crio/11-pause.conf" /etc/crio/crio.conf.d/11-pause.conf
fi
install -D -m 0644 "$IN/crio/policy.json" /etc/containers/policy.json
install -D -m 0644 "$IN/crio/storage.conf" /etc/containers/storage.conf
install -D -m 0644 "$IN/crio/crictl.yaml" /etc/crictl.yaml
install -D -m 0644 "$IN/crio/crio.service" /etc/systemd/system/crio.service
install -D -m 0644 "$IN/crio/nestkube-crio-preload.service" \
  /etc/systemd/system/nestkube-crio-preload.service
install -D -m 0644 "$IN/crio/kubelet-crio.conf" \
  /etc/systemd/system/kubelet.service.d/20-crio.conf
mkdir -p /usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d /var/lib/crio
mkdir -p /usr/share/nestkube/images
cp "$OUT"/images/*.tar /usr/share/nestkube/images/

# Neither CRI-O nor containerd starts at boot: the first copy of the images into CRI-O's
# store takes a while, and create starts CRI-O once the node's drop-in is written.
systemctl disable containerd.service >/dev/null 2>&1
# Gone rather than masked (its unit file is in /etc): the kubelet's Wants= then names nothing.
rm -f /etc/systemd/system/containerd.service
# containerd's copy of the images is not used by CRI-O.
rm -rf /var/lib/containerd
