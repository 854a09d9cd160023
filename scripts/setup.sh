#!/usr/bin/env bash
# Creates/updates .venv. Usage: scripts/setup.sh app|test
# Two packages (safety-gymnasium 1.0.0, gymnasium-robotics 1.2.2) are installed with --no-deps
# because their published pins cannot be met on Python 3.11; see ../shared/docs/ENVIRONMENT.md.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-app}
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=".venv/bin/python -m pip"
if [ "$what" = test ]; then  # the Makefile runs `app` first; tests only add their tools
  $pip install --quiet --disable-pip-version-check -r requirements/test.txt
  exit 0
fi
$pip install --quiet --disable-pip-version-check --upgrade pip
$pip install --quiet --disable-pip-version-check -r requirements/base.txt
$pip install --quiet --disable-pip-version-check --no-deps -r requirements/nodeps.txt
$pip install --quiet --disable-pip-version-check --no-deps -e .
