#!/usr/bin/env bash
# Install the Debian 12 packages nestkube needs on a fresh machine (idempotent).
# Engines, the kits' build tools (Debian's Go 1.19, rsync, jq, dpkg-dev and reflect2 for the
# v1.20.2 source package; gcc and libseccomp-dev for runc and the static pause program),
# debootstrap for the base image. The Go module kit needs Go 1.26 or newer besides: checked below.
set -euo pipefail

packages=(
  podman runc crun uidmap slirp4netns fuse-overlayfs containernetworking-plugins
  docker.io
  golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev
  debootstrap gcc libc6-dev libseccomp-dev make git iptables iproute2 curl ca-certificates
  python3-venv
  busybox-static
  bind9-dnsutils netcat-openbsd  # dig and nc for the conformance test images
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

# The module kit (Kubernetes v1.34+, etcd, CoreDNS, containerd 2) needs a current Go; Debian's
# 1.19 above is only for the v1.20.2 source package. nestkube uses $NESTKUBE_GO when set, else
# the newest of the go on PATH and /usr/local/go, whatever comes first on PATH.
newest=""
candidates=("$(command -v go || true)" /usr/local/go/bin/go)
[[ -n ${NESTKUBE_GO:-} ]] && candidates=("$NESTKUBE_GO")
for go in "${candidates[@]}"; do
  [[ -n $go && -x $go ]] || continue
  v=$(GOTOOLCHAIN=local "$go" env GOVERSION 2>/dev/null | sed 's/^go//') || continue
  if [[ -z $newest ]] || [[ $(printf '%s\n%s\n' "$newest" "$v" | sort -V | tail -n 1) == "$v" ]]; then
    newest=$v
  fi
done
if [[ -z $newest ]] || [[ $(printf '%s\n1.26\n' "$newest" | sort -V | head -n 1) != 1.26 ]]; then
  echo "install-system-deps: Go 1.26 or newer is needed for the module kit (found: ${newest:-none});" \
    "install it under /usr/local/go or set NESTKUBE_GO" >&2
  exit 1
fi
