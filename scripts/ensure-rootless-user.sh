#!/bin/sh
# Make sure a rootless test user exists, with what rootless Podman needs, and print its name.
#
# Idempotent: every step checks before it changes anything, so CI and developers can run it
# before each rootless e2e test. Run as root. Exits non-zero with a message if a step fails.
set -eu

USER_NAME="${NESTKUBE_ROOTLESS_USER:-nestkube-rootless}"
HOME_DIR="/home/${USER_NAME}"
# One user namespace needs 65536 ids: a node image's files use uids up to 65534 (nobody).
RANGE=65536

die() {
	echo "ensure-rootless-user: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (it creates a user and edits /etc/subuid)"

if ! getent passwd "$USER_NAME" >/dev/null; then
	useradd --create-home --home-dir "$HOME_DIR" --shell /bin/bash "$USER_NAME" >&2
fi
# useradd may skip the home when the directory pre-exists, or /home may have been wiped.
if [ ! -d "$HOME_DIR" ]; then
	mkdir -p "$HOME_DIR"
	chown "$USER_NAME:" "$HOME_DIR"
	chmod 0750 "$HOME_DIR"
fi
uid="$(id -u "$USER_NAME")"

# The next free start above every range already in the file, so ranges never overlap.
next_start() {
	awk -F: 'BEGIN { end = 100000 }
		NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { if ($2 + $3 > end) end = $2 + $3 }
		END { print end }' "$1"
}

# A range counts when the line names the user by name or by uid (both forms are valid).
has_range() {
	awk -F: -v n="$USER_NAME" -v u="$uid" -v want="$RANGE" '
		($1 == n || $1 == u) && $3 ~ /^[0-9]+$/ { total += $3 }
		END { exit (total >= want) ? 0 : 1 }' "$1"
}

for f in /etc/subuid /etc/subgid; do
	[ -e "$f" ] || { : >"$f"; chmod 0644 "$f"; }
	if ! has_range "$f"; then
		start="$(next_start "$f")"
		echo "${USER_NAME}:${start}:${RANGE}" >>"$f"
	fi
done

# slirp4netns (Podman's rootless network) opens /dev/net/tun, which some hosts, this project's CI
# VMs included, create with mode 0600 root-only. 0666 is what most distributions ship anyway,
# and a tun fd only gives control of interfaces inside the opener's own network namespace, so
# widening it on a disposable test host is acceptable. Do not do this on a shared machine
# without thinking.
if [ ! -c /dev/net/tun ]; then
	mkdir -p /dev/net
	mknod -m 0666 /dev/net/tun c 10 200 || die "cannot create /dev/net/tun"
fi
if [ "$(stat -c %a /dev/net/tun)" != "666" ]; then
	chmod 0666 /dev/net/tun
fi

echo "$USER_NAME"
