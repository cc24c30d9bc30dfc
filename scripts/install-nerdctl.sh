#!/usr/bin/env bash
# Build nerdctl (pinned in src/nestkube/kit/releases.py) and the containerd, runc and CNI
# plugins it runs on from their Go modules, and install them for `--provider nerdctl`.
# Debian packages neither nerdctl nor containerd 2. Needs Go 1.26+ and the Go module proxy
# (see scripts/install-system-deps.sh); the builds are cached under ~/.cache/nestkube/kit.
#
#   sudo scripts/install-nerdctl.sh [PREFIX]      # default PREFIX: /usr/local
#
# Installs PREFIX/bin/{nerdctl,containerd,containerd-shim-runc-v2,ctr,runc},
# PREFIX/libexec/cni/* and /etc/nerdctl/nerdctl.toml (cni_path; kept if present). Start
# containerd yourself afterwards (`containerd &`, or a service unit): nothing here does.
# Note: PREFIX/bin/runc then comes before Debian's /usr/sbin/runc on PATH for every engine.
set -euo pipefail

prefix=${1:-/usr/local}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
if [[ $(id -u) -ne 0 ]]; then
  echo "install-nerdctl: run as root (or via sudo): it installs into $prefix and /etc" >&2
  exit 1
fi
exec "$python" -m nestkube.kit.host_nerdctl install --prefix "$prefix"
