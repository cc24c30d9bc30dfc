#!/usr/bin/env bash
# Install the Debian 12 packages nestkube needs on a fresh machine (idempotent).
# Engines, the offline kit's build tools (Go, rsync, jq, dpkg-dev for Debian's source package,
# reflect2 for the fix), debootstrap for the base image and gcc for the static pause program.
set -euo pipefail

packages=(
  podman runc crun uidmap slirp4netns fuse-overlayfs containernetworking-plugins
  docker.io
  golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev
  debootstrap gcc libc6-dev make git iptables iproute2 curl ca-certificates python3-venv
  busybox-static
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-system-deps: run as root (or via sudo): it installs Debian packages" >&2
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

# The kit builds Kubernetes from Debian's source package, which needs a deb-src entry.
src_list=/etc/apt/sources.list.d/nestkube-deb-src.sources
need_update=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  cat >"$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi

if [[ ${#missing[@]} -gt 0 || $need_update -eq 1 ]]; then
  apt-get update -qq
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-system-deps: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
