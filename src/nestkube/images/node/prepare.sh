#!/bin/sh
# Phase one of a node image build, run inside a container of the base image.
# Installs the node's packages and leaves, in /nestkube-out, the pieces nestkube turns into
# component images: Debian's etcd and the iptables files kube-proxy needs.
set -eu
export DEBIAN_FRONTEND=noninteractive
OUT=/nestkube-out

apt-get update -qq
# The package list is one package a word: split on purpose.
# shellcheck disable=SC2046
apt-get install -y -qq --no-install-recommends $(cat /nestkube-in/packages) >/dev/null

# The files a binary needs: itself and the shared libraries the loader resolves for it.
closure() {
  for f in "$@"; do
    echo "$f"
    ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
  done | sort -u
}

# etcd's layer, for releases whose etcd is not built from its module: Debian's etcd
# (extracted, not installed: it belongs in its own image) and the shared libraries it links
# against. Its version is recorded so the image is tagged with what it really holds.
if [ -e /nestkube-in/etcd-from-debian ]; then
mkdir -p /tmp/etcd && cd /tmp/etcd
apt-get download -qq etcd-server >/dev/null
dpkg-deb -x etcd-server_*.deb root
STAGE=/tmp/etcd-layer
rm -rf "$STAGE" && mkdir -p "$STAGE/usr/bin" "$STAGE/var/lib/etcd" "$STAGE/tmp"
chmod 0700 "$STAGE/var/lib/etcd" && chmod 1777 "$STAGE/tmp"
cp root/usr/bin/etcd "$STAGE/usr/bin/etcd"
for f in $(closure root/usr/bin/etcd | grep -v '^root/'); do
  cp -L --parents "$f" "$STAGE"
done
tar -C "$STAGE" -cf "$OUT/etcd-layer.tar" .
dpkg-deb -f etcd-server_*.deb Version > "$OUT/etcd-version"
cd / && rm -rf /tmp/etcd "$STAGE"
fi

# kube-proxy's iptables layer: the same iptables the node uses (nft backend by default),
# so kube-proxy and the kubelet write rules through one backend.
STAGE=/tmp/kube-proxy-layer
rm -rf "$STAGE" && mkdir -p "$STAGE"
nft_multi=$(readlink -f /usr/sbin/xtables-nft-multi)
legacy_multi=$(readlink -f /usr/sbin/xtables-legacy-multi)
extensions=$(ls /usr/lib/*-linux-gnu/xtables/*.so)
# shellcheck disable=SC2086
for f in $(closure "$nft_multi" "$legacy_multi" /usr/sbin/conntrack $extensions); do
  cp -L --parents "$f" "$STAGE"
done
cd "$STAGE/usr/sbin"
for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf xtables-nft-multi "$name"
  ln -sf xtables-nft-multi "$(echo "$name" | sed 's/^\(ip6\{0,1\}tables\)/\1-nft/')"
  ln -sf xtables-legacy-multi "$(echo "$name" | sed 's/^\(ip6\{0,1\}tables\)/\1-legacy/')"
done
cd /
# /usr/sbin is usually merged into /sbin; make both resolve.
tar -C "$STAGE" -cf "$OUT/kube-proxy-layer.tar" .
rm -rf "$STAGE"
