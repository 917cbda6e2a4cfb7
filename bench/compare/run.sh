#!/usr/bin/env bash
# Side by side, in one run and on the same data: roboct vs scikit-image's iradon on P2 and
# roboct vs RTK's CPU FDK on P3 (see README.md here). Usage: bench/compare/run.sh [--scale N]
# [--repeat N] [--work DIR]. Set COMPARE_VENV to reuse a venv that already has the packages.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${COMPARE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi
(cd "$root" && cargo build --release -q -p roboct)
exec "$venv/bin/python" "$here/compare.py" --roboct "$root/target/release/roboct" "$@"
