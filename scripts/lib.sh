#!/usr/bin/env bash
# Shared by scripts/test and scripts/demo: the virtualenv, the collection copy, the fake PVE.
# Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${PVELAB_VENV:-$ROOT/.venv}
# Outside the checkout: ansible-test lists a collection's files with git when it sits inside a
# checkout, and would see none of an ignored copy.
WORK=${PVELAB_WORK:-${TMPDIR:-/tmp}/pvelab-proxmox-test-$(printf %s "$ROOT" | sha256sum | cut -c1-8)}
COLLECTIONS=$WORK/collections
COPY=$COLLECTIONS/ansible_collections/pvelab/proxmox
# The venv's Python version (X.Y), what ansible-test is asked to use; set by setup().
export PYVER=3.11

say() { printf '\n=== %s\n' "$*"; }

find_python() {
  local candidate
  for candidate in "${PVELAB_PYTHON:-}" python3.11 "$HOME/.pyenv/versions/3.11.7/bin/python3.11" python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "no Python >= 3.10 found; set PVELAB_PYTHON" >&2
  return 1
}

setup() {
  local python stamp want
  python=$(find_python) || return 1
  stamp=$VENV/.requirements.sha
  want=$(sha256sum < "$ROOT/tests/requirements.txt" | cut -d' ' -f1)
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV with $python"
    "$python" -m venv "$VENV" || return 1
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing test requirements"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/tests/requirements.txt" || return 1
    echo "$want" > "$stamp"
  fi
  PYVER=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  # ansible-test's shellcheck sanity test needs the shellcheck binary (a Debian package).
  if ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing shellcheck"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck) >/dev/null 2>&1 ||
      echo "shellcheck could not be installed; its sanity test will be skipped"
  fi
  "$ROOT/scripts/ansible-test-offline.sh" "$VENV/bin/python" || return 1
  copy_collection
}

copy_collection() {
  # ansible-test wants the collection at .../ansible_collections/<ns>/<name> (a symlink resolves away).
  rm -rf "$COPY" && mkdir -p "$COPY"
  tar -C "$ROOT" -cf - \
    --exclude=./.git --exclude=./.venv --exclude='./.venv*' --exclude=./.tmp --exclude=./tests/output \
    --exclude=./tests/e2e --exclude=./tests/harness --exclude=./tests/conftest.py \
    --exclude=./benchmarks --exclude=./demo-out --exclude='*.pyc' --exclude=__pycache__ --exclude=.pytest_cache \
    --exclude=.hypothesis --exclude='*.tar.gz' . | tar -C "$COPY" -xf -
}

activate() {
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
  export PYTHONPATH=$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}
  # The fake's CA is always passed explicitly; a CA bundle in the environment must not override it.
  unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE
  export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
}

# Fakes started by this shell; stop_fake ends them all.
FAKE_PIDS=()
start_fake() {
  local description=$1 info=$2 pid
  rm -f "$info"
  python -m fakecluster serve "$description" --info-file "$info" >"$info.log" 2>&1 &
  pid=$!
  FAKE_PIDS+=("$pid")
  for _ in $(seq 1 100); do
    [ -s "$info" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "fake PVE did not start:"; cat "$info.log"
  return 1
}

stop_fake() {
  local pid
  for pid in "${FAKE_PIDS[@]}"; do
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  FAKE_PIDS=()
}
