#!/usr/bin/env bash
# Creates/updates .venv. Usage: scripts/setup.sh app|lab|test
# Two packages (safety-gymnasium 1.0.0, gymnasium-robotics 1.2.2) are installed with --no-deps
# because their published pins cannot be met on Python 3.11; README.md, "Set-up details".
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-app}
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=".venv/bin/python -m pip"

# Debian packages: installed when missing (root, or sudo without a password); otherwise a warning.
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"; } >/dev/null; then
    echo "warning: could not install Debian packages: $*" >&2
    return 1
  fi
}
if [ "$what" = lab ]; then  # the Makefile runs `app` first; `make lab` (and `make test`) add JupyterLab
  $pip install --quiet --disable-pip-version-check -r requirements/lab.txt
  # the project's kernel: this .venv's Python, named for the project (the notebooks' kernelspec); idempotent
  .venv/bin/python -m ipykernel install --sys-prefix --name ctrpo-explorer --display-name "C-TRPO Explorer (.venv)" >/dev/null
  exit 0
fi
if [ "$what" = test ]; then  # the Makefile runs `app` first; tests only add their tools
  $pip install --quiet --disable-pip-version-check -r requirements/test.txt
  $pip install --quiet --disable-pip-version-check -r requirements/ray.txt  # the optional Ray backend, tested too
  $pip install --quiet --disable-pip-version-check -r requirements/tensorboard.txt  # optional TensorBoard output, tested too
  # the real-browser test drives Debian's Chromium (Playwright's own browser download does not work here)
  command -v chromium >/dev/null || apt_install chromium
  exit 0
fi
# MuJoCo renders offscreen through EGL (the Rollout page); Mesa's EGL may be missing on a fresh machine
ldconfig -p 2>/dev/null | grep -q libEGL_mesa || apt_install libegl1 libegl-mesa0 || true
$pip install --quiet --disable-pip-version-check --upgrade pip
$pip install --quiet --disable-pip-version-check -r requirements/base.txt
$pip install --quiet --disable-pip-version-check --no-deps -r requirements/nodeps.txt
$pip install --quiet --disable-pip-version-check --no-deps -e .
