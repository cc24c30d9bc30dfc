#!/usr/bin/env bash
# Install the Debian 12 packages nestkube needs on a fresh machine (idempotent).
# Engines, the kits' build tools (Debian's Go 1.19, rsync, jq, dpkg-dev and reflect2 for the
# v1.20.2 source package; gcc and libseccomp-dev for runc and the static pause program),
# debootstrap for the base image. The Go module kit needs Go 1.26 or newer besides, which
# Debian 12 does not ship: the script gets it by itself where it can (see ensure_go below).
#
# Sourced with NESTKUBE_DEPS_LIB=1 it only defines its functions (the unit tests use them).
set -euo pipefail

# The Go the module kit needs, and the oldest Go that can fetch it by itself: since Go 1.21 the
# go command downloads the toolchain GOTOOLCHAIN names from the Go module proxy (as the module
# golang.org/toolchain, checked against the checksum database).
GO_NEED=1.26
GO_SWITCHER=1.21
# bookworm-backports' newest Go (its archive has golang-1.21, 1.22 and 1.23; main has 1.19).
BACKPORTS_GO=golang-1.23-go
BACKPORTS_LIST=/etc/apt/sources.list.d/nestkube-bookworm-backports.sources
# Where a fetched toolchain is installed; /usr/local/go points at it when that is free.
GO_INSTALL_DIR=/usr/local/lib/nestkube
# Gos looked at besides $NESTKUBE_GO and the go on PATH (a test may change this list).
GO_CANDIDATES=${GO_CANDIDATES-"/usr/local/go/bin/go /usr/lib/go-1.*/bin/go"}

log() { echo "install-system-deps: $*" >&2; }

# version_ge A B: whether Go version A (1.23, 1.23.4, 1.26rc1) is B or newer.
version_ge() {
  [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]
}

# go_version GO: the Go release GO reports (e.g. 1.23.4), without switching toolchains.
go_version() {
  GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9][0-9.]*\).*/\1/p'
}

# go_candidates: every go binary to consider, $NESTKUBE_GO alone when it is set.
go_candidates() {
  if [[ -n ${NESTKUBE_GO:-} ]]; then
    echo "$NESTKUBE_GO"
    return
  fi
  command -v go || true
  local g
  for g in $GO_CANDIDATES; do
    [[ -x $g ]] && echo "$g"
  done
  return 0
}

# newest_go: "VERSION PATH" of the newest working go among the candidates, or nothing.
newest_go() {
  local best="" best_path="" g v
  while read -r g; do
    [[ -n $g && -x $g ]] || continue
    v=$(go_version "$g") || continue
    [[ -n $v ]] || continue
    if [[ -z $best ]] || version_ge "$v" "$best"; then
      best=$v
      best_path=$g
    fi
  done < <(go_candidates)
  [[ -n $best ]] && echo "$best $best_path"
  return 0
}

# go_plan VERSION: what to do with the newest Go found: "ok" (new enough), "switch" (it can
# fetch Go $GO_NEED through GOTOOLCHAIN) or "bootstrap" (install one that can first).
go_plan() {
  if [[ -n $1 ]] && version_ge "$1" "$GO_NEED"; then
    echo ok
  elif [[ -n $1 ]] && version_ge "$1" "$GO_SWITCHER"; then
    echo switch
  else
    echo bootstrap
  fi
}

# latest_toolchain ARCH: the newest go$GO_NEED.N for linux/ARCH in the proxy's version list of
# golang.org/toolchain (read from stdin), e.g. go1.26.8; nothing when it lists none.
latest_toolchain() {
  local minor=${GO_NEED//./\\.}
  sed -n "s/^v0\.0\.1-\(go${minor}\.[0-9][0-9]*\)\.linux-$1\$/\1/p" | sort -V | tail -n 1
}

# go_proxy GO: the first module proxy GO uses ($GOPROXY, else the go command's own default).
go_proxy() {
  local first
  first=$(GOTOOLCHAIN=local "$1" env GOPROXY) || return 1
  first=${first%%[,|]*}
  [[ $first == direct || $first == off || -z $first ]] && return 1
  echo "${first%/}"
}

manual_go_steps() {
  local arch
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  cat >&2 <<STEPS
install-system-deps: Go $GO_NEED or newer is needed for the module kit and could not be set up
here ($1). Do it by hand, as root, then run this script again:
  # a Go that can fetch Go $GO_NEED (Debian 12: from bookworm-backports)
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > $BACKPORTS_LIST
  apt-get update && apt-get install -y -t bookworm-backports $BACKPORTS_GO
  # Go $GO_NEED from the Go module proxy (pick the newest go$GO_NEED.N its list shows)
  proxy=\$(/usr/lib/go-1.23/bin/go env GOPROXY | cut -d, -f1)
  curl -fsSL "\$proxy/golang.org/toolchain/@v/list" | grep 'go$GO_NEED\..*linux-$arch\$'
  root=\$(GOTOOLCHAIN=go$GO_NEED.N /usr/lib/go-1.23/bin/go env GOROOT)
  cp -a "\$root" /usr/local/go
or unpack the go$GO_NEED.N.linux-$arch.tar.gz from Go's downloads page into /usr/local/go; or set
NESTKUBE_GO to a go $GO_NEED binary.
STEPS
}

# ensure_backports_go: install $BACKPORTS_GO from bookworm-backports (adding the source when
# missing); prints its go.
ensure_backports_go() {
  local codename
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  if [[ $codename != bookworm ]]; then
    log "no Go $GO_SWITCHER+ package known for Debian '${codename:-unknown}'"
    return 1
  fi
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding bookworm-backports ($BACKPORTS_LIST) for $BACKPORTS_GO"
    cat >"$BACKPORTS_LIST" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -qq >&2 || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports "$BACKPORTS_GO" >/dev/null || return 1
  # Debian installs it as /usr/lib/go-1.23/bin/go: ask the package where.
  dpkg -L "$BACKPORTS_GO" | grep -m 1 '/bin/go$'
}

# fetch_go SWITCHER: Go $GO_NEED.N through SWITCHER's GOTOOLCHAIN download, installed under
# $GO_INSTALL_DIR (and at /usr/local/go when that is free); prints its go.
fetch_go() {
  local switcher=$1 arch proxy want root dest
  arch=$(GOTOOLCHAIN=local "$switcher" env GOARCH) || return 1
  proxy=$(go_proxy "$switcher") || { log "$switcher uses no module proxy (GOPROXY)"; return 1; }
  want=$(curl -fsSL "$proxy/golang.org/toolchain/@v/list" | latest_toolchain "$arch") || return 1
  if [[ -z $want ]]; then
    log "the Go module proxy lists no go$GO_NEED toolchain for linux/$arch"
    return 1
  fi
  log "fetching $want from the Go module proxy (GOTOOLCHAIN=$want)"
  root=$(cd / && GOTOOLCHAIN=$want GOFLAGS='' "$switcher" env GOROOT) || return 1
  [[ -x $root/bin/go ]] || return 1
  dest=$GO_INSTALL_DIR/$want
  if [[ ! -x $dest/bin/go ]]; then
    mkdir -p "$GO_INSTALL_DIR"
    rm -rf "$dest.tmp"
    cp -a "$root" "$dest.tmp"
    chmod -R u+w "$dest.tmp"
    mv "$dest.tmp" "$dest"
  fi
  if [[ ! -e /usr/local/go ]]; then
    ln -s "$dest" /usr/local/go
  fi
  echo "$dest/bin/go"
}

# ensure_go: Go $GO_NEED or newer where nestkube looks for it, or the exact steps and exit 1.
ensure_go() {
  local found version path plan switcher go
  found=$(newest_go)
  version=${found%% *}
  path=${found#* }
  plan=$(go_plan "$version")
  if [[ $plan == ok ]]; then
    return 0
  fi
  if [[ -n ${NESTKUBE_GO:-} ]]; then
    log "NESTKUBE_GO=$NESTKUBE_GO is Go ${version:-unknown}; the module kit needs $GO_NEED or newer"
    return 1
  fi
  switcher=$path
  if [[ $plan == bootstrap ]]; then
    log "found Go ${version:-none}, too old to fetch Go $GO_NEED; installing $BACKPORTS_GO"
    if ! switcher=$(ensure_backports_go); then
      manual_go_steps "installing $BACKPORTS_GO from bookworm-backports failed"
      return 1
    fi
  fi
  if ! go=$(fetch_go "$switcher"); then
    manual_go_steps "fetching Go $GO_NEED with $switcher failed"
    return 1
  fi
  if [[ $(readlink -f /usr/local/go) != "$(readlink -f "${go%/bin/go}")" ]]; then
    log "Go $GO_NEED is at $go; /usr/local/go is another Go, so set NESTKUBE_GO=$go"
  fi
  log "Go $(go_version "$go") at $go"
}

main() {

  packages=(
    podman runc crun uidmap slirp4netns fuse-overlayfs containernetworking-plugins
    docker.io
    golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev
    debootstrap gcc libc6-dev libseccomp-dev make git iptables iproute2 curl ca-certificates
    python3-venv
    busybox-static
    bind9-dnsutils netcat-openbsd  # dig and nc for the conformance test images
    qemu-system-x86 qemu-utils e2fsprogs  # the cgroup-v2 test guest (nestkube.testing.guest)
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
  # the newest of the go on PATH and /usr/local/go.
  ensure_go || exit 1
}

if [[ ${NESTKUBE_DEPS_LIB:-0} != 1 ]]; then
  main "$@"
fi
