#!/bin/sh
# Run before every kubelet start (11-kind-cgroups.conf). kind's kubelet config names the cgroup
# root /kubelet; the systemd driver turns that into kubelet.slice. On cgroup v2 the groups need
# every controller the root offers, which can only be enabled once systemd has emptied the root
# group (so not from the entrypoint). On cgroup v1 the entrypoint has made them already.
set -eu
CGROUP=${NESTKUBE_CGROUP:-/sys/fs/cgroup}
if [ ! -f "$CGROUP/cgroup.controllers" ]; then
  mkdir -p "$CGROUP/systemd/kubelet" 2>/dev/null || true
  exit 0
fi
delegate() {
  controllers=$(cat "$1/cgroup.controllers")
  for c in $controllers; do
    echo "+$c" >"$1/cgroup.subtree_control"
  done
}
delegate "$CGROUP"
for group in kubelet kubelet.slice; do
  mkdir -p "$CGROUP/$group"
  delegate "$CGROUP/$group"
done
