#!/bin/sh
# Imports every image archive in the folder $1 into containerd's k8s.io store with a throwaway
# containerd (on the config already installed), then lists what the store holds in
# /etc/nestkube/preloaded-images. Shared by the node image's finish.sh and the kind format's
# install.sh. --no-unpack keeps only content: no snapshotter works on a build container's
# overlay, and the CRI unpacks on first use.
set -eu
archives=$1

containerd --config /etc/containerd/config.toml >/tmp/containerd.log 2>&1 &
pid=$!
i=0
until ctr version >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then cat /tmp/containerd.log; exit 1; fi
  sleep 0.1
done
for archive in "$archives"/*.tar; do
  ctr -n k8s.io images import --no-unpack --all-platforms "$archive" >/dev/null
done
mkdir -p /etc/nestkube
ctr -n k8s.io images ls -q | grep -v '^sha256:' | sort >/etc/nestkube/preloaded-images
kill "$pid"
wait "$pid" || true
rm -rf /tmp/containerd.log /run/containerd /var/lib/containerd/tmpmounts
