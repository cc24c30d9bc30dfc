#!/bin/sh
# Entrypoint of a kind-format node image. kind starts node containers with the image's own
# entrypoint and no arguments, privileged, with a private cgroup namespace; it expects the node
# to prepare what its kubeadm config assumes (systemd cgroup driver, cgroupRoot /kubelet) before
# systemd starts. nestkube's own entrypoint then gives the node its identity and execs init.
# NESTKUBE_ROOT and NESTKUBE_NEXT exist so the unit tests can run this in a scratch directory.
set -u
ROOT=${NESTKUBE_ROOT:-}
NEXT=${NESTKUBE_NEXT:-/usr/local/bin/nestkube-entrypoint}
CGROUP=$ROOT/sys/fs/cgroup
CONTAINERD_CONFIG=$ROOT/etc/containerd/config.toml

warn() { echo "nestkube-kind-entrypoint: $*" >&2; }

# The kubelet mounts volumes with propagation; that needs this node's mounts to be shared.
if [ -z "$ROOT" ]; then
  mount --make-rshared / || warn "cannot make / shared: volume propagation will fail"
fi

# cgroup v1: the kubelet's cgroup root must exist in every hierarchy before it starts, and
# systemd removes empty groups it does not know, so each one is bind-mounted onto itself.
# (cgroup v2 needs delegated controllers instead; the kubelet unit's kubelet-cgroups does that
# once systemd has moved every process out of the root group.)
if [ ! -f "$CGROUP/cgroup.controllers" ] && [ -d "$CGROUP" ]; then
  [ -z "$ROOT" ] && mount --make-rprivate "$CGROUP" 2>/dev/null
  for hierarchy in "$CGROUP"/*; do
    # cpu and cpuacct are often symlinks to one combined hierarchy.
    [ -d "$hierarchy" ] && [ ! -L "$hierarchy" ] || continue
    for group in kubelet kubelet.slice; do
      mkdir -p "$hierarchy/$group" || { warn "cannot create $hierarchy/$group"; continue; }
      # A new cpuset group has no CPUs or memory nodes; tasks could not join it.
      for file in cpuset.cpus cpuset.mems; do
        if [ -f "$hierarchy/$file" ]; then
          cat "$hierarchy/$file" >"$hierarchy/$group/$file" 2>/dev/null || true
        fi
      done
      [ -z "$ROOT" ] && mount --bind "$hierarchy/$group" "$hierarchy/$group"
    done
  done
fi

# Where even root cannot lower oom_score_adj (restricted hosts, user namespaces) the kubelet's
# -998 for critical pods makes every sandbox fail unless containerd is told to clamp it.
if ! (echo -999 >/proc/self/oom_score_adj) 2>/dev/null; then
  if [ -f "$CONTAINERD_CONFIG" ]; then
    sed -i 's/^\([[:space:]]*restrict_oom_score_adj[[:space:]]*=[[:space:]]*\)false/\1true/' \
      "$CONTAINERD_CONFIG" || warn "cannot set restrict_oom_score_adj"
  fi
fi

exec "$NEXT" "$@"
