#!/usr/bin/env bash
# The Python seed peer's own venv (bench/seed_python/): awslambdaric (AWS's runtime interface
# client for Python, what a python3.11 Lambda runs handlers with), boto3 and Pillow, pinned in
# requirements.txt beside this file. Cached in ${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/
# seed-python-venv and rebuilt only when requirements.txt changes. Prints the venv's python.
# Python 3.11 when the machine has it (the seed's runtime, python3.11 on Lambda), else python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/seed-python-venv"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
  echo "$venv/bin/python"
  exit 0
fi
python=$(command -v python3.11 || command -v python3)
echo "seed_python: making $venv with $($python --version) (awslambdaric, boto3, Pillow)" >&2
# The stamp is written last: an interrupted install is redone from scratch.
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
cp "$here/requirements.txt" "$stamp"
echo "$venv/bin/python"
