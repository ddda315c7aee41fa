#!/usr/bin/env bash
# Prepare ~/.ansible/test once, before any ansible-test runs: what it would otherwise make on first use.
#
# 1. Let ansible-test build its own virtualenvs on a machine that reaches only package registries.
# ansible-test bootstraps pip in every venv it makes by downloading get-pip.py from a host outside
# PyPI; that fails offline ("does not have pip available"). It first looks for a cached copy at
# ~/.ansible/test/cache/get_pip_<version>.py, so we put there a tiny stand-in that installs pip from
# the pip wheel (downloaded from PyPI). Every other requirement then comes from PyPI as usual.
set -euo pipefail
python=${1:?usage: ansible-test-offline.sh PYTHON}
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
# The pip version this ansible-test pins for its venvs.
version=$("$python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class P:  # get_venv_packages only reads .version
    version = '3.11'
print(get_venv_packages(P())['pip'])
PY
)
script="$cache/get_pip_${version//./_}.py"
if ! ls "$cache"/pip-"$version"-*.whl >/dev/null 2>&1; then
  "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$cache" "pip==$version"
fi
cat > "$script" <<PY
# Stand-in for get-pip.py $version, written by pvelab.proxmox's scripts/ansible-test-offline.sh:
# runs pip from its wheel to install the packages ansible-test asks for.
import glob, os, sys
wheel = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pip-$version-*.whl')))[-1]
sys.path.insert(0, wheel)
from pip._internal.cli.main import main
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(main(['install'] + args))
PY
echo "ansible-test pip bootstrap ready: $script"

# 2. The SSH key pair every `ansible-test integration` wants (core_ci.SshKey). On first use each run makes
# it with ssh-keygen; the integration shards start together, and the second ssh-keygen then meets the
# first one's file ("id_rsa already exists. Overwrite (y/n)?") and fails. Made here, once, the same way
# (PEM, and the header paramiko reads), into a temporary name first, so no run ever sees half a key.
keydir="$HOME/.ansible/test"
if [ ! -f "$keydir/id_rsa" ] || [ ! -f "$keydir/id_rsa.pub" ]; then
  tmp=$(mktemp -d "$keydir/.keygen.XXXXXX")
  ssh-keygen -m PEM -q -t rsa -N '' -C ansible-test -f "$tmp/id_rsa"
  sed -i -E 's/(BEGIN|END) PRIVATE KEY/\1 RSA PRIVATE KEY/' "$tmp/id_rsa"
  chmod 600 "$tmp/id_rsa"
  mv -f "$tmp/id_rsa.pub" "$keydir/id_rsa.pub" && mv -f "$tmp/id_rsa" "$keydir/id_rsa"
  rmdir "$tmp"
fi
echo "ansible-test SSH key ready: $keydir/id_rsa"
