#!/bin/sh
# The node container's entrypoint: give this container its own identity, then hand PID 1 to
# init. Every node of every cluster starts from one image, so nothing in the image may identify
# a machine; each container makes its identity at its first boot and keeps it in its own /etc,
# which survives `restart` (not `rm`).
#   /etc/machine-id             systemd, journald, D-Bus, and the kubelet's machineID
#   /etc/nestkube/product_uuid  bind-mounted over DMI's product_uuid, which the kubelet reports
#                               as systemUUID (otherwise every node shows the host's)
# Written before init starts, so systemd finds a valid id and never runs its first-boot path.
# A failure here is reported and the node still boots: a shared id is better than no node.
# NESTKUBE_ROOT, NESTKUBE_MOUNT and NESTKUBE_INIT exist so the unit tests can run this logic in
# a scratch directory; nothing sets them in a node.
set -u
ROOT=${NESTKUBE_ROOT:-}
MOUNT=${NESTKUBE_MOUNT:-mount}
INIT=${NESTKUBE_INIT:-/sbin/init}
MACHINE_ID=$ROOT/etc/machine-id
DBUS_MACHINE_ID=$ROOT/var/lib/dbus/machine-id
PRODUCT_UUID=$ROOT/etc/nestkube/product_uuid
DMI_PRODUCT_UUID=$ROOT/sys/class/dmi/id/product_uuid

warn() { echo "nestkube-entrypoint: $*" >&2; }
new_uuid() { cat /proc/sys/kernel/random/uuid; }

# A machine-id is 32 lowercase hex digits (machine-id(5)); anything else, empty included, is
# replaced.
valid_machine_id() {
  id=$(cat "$MACHINE_ID" 2>/dev/null) || return 1
  case $id in *[!0-9a-f]* | '') return 1 ;; esac
  [ ${#id} -eq 32 ]
}

write_machine_id() {
  id=$(new_uuid | tr -d '-') && [ ${#id} -eq 32 ] || return 1
  # Written in place (not renamed over) in case an engine bind-mounts the file.
  printf '%s\n' "$id" >"$MACHINE_ID" && chmod 0444 "$MACHINE_ID"
}

write_product_uuid() {
  mkdir -p "$(dirname "$PRODUCT_UUID")" || return 1
  new_uuid >"$PRODUCT_UUID.new" || return 1
  chmod 0444 "$PRODUCT_UUID.new" && mv -f "$PRODUCT_UUID.new" "$PRODUCT_UUID"
}

# product_uuid is written last and only once: while it is missing this is the container's
# first boot, and whatever /etc/machine-id holds came from the image.
first_boot=false
[ -s "$PRODUCT_UUID" ] || first_boot=true

if $first_boot || ! valid_machine_id; then
  write_machine_id || warn "cannot write $MACHINE_ID: this node shares its machine-id"
fi
# D-Bus reads its own copy first; a file of its own from the image would be shared too.
if [ -f "$DBUS_MACHINE_ID" ] && [ ! -L "$DBUS_MACHINE_ID" ]; then
  ln -sf /etc/machine-id "$DBUS_MACHINE_ID" || warn "cannot link $DBUS_MACHINE_ID"
fi

if $first_boot; then
  write_product_uuid || warn "cannot write $PRODUCT_UUID"
fi

# Mounts do not survive a restart, so this runs at every boot. A host without DMI (some
# virtual machines, arm64 without firmware tables) has no file to cover; the kubelet then
# falls back to /etc/machine-id for the system UUID, which is this node's own as well.
if [ -s "$PRODUCT_UUID" ] && [ -e "$DMI_PRODUCT_UUID" ]; then
  "$MOUNT" --bind "$PRODUCT_UUID" "$DMI_PRODUCT_UUID" ||
    warn "cannot bind-mount $PRODUCT_UUID over $DMI_PRODUCT_UUID"
fi

exec "$INIT" "$@"
