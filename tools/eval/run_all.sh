#!/usr/bin/env bash
# Reproduces docs/results.md: a 4096-token trace of SmolLM2-135M-Instruct over Genesis, kvc's
# attention-level evaluation at two prefix lengths, FastGen's policy map, end-to-end perplexity,
# and the plots. Needs the Python packages of tools/eval/README.md and the kvc tool:
#   cmake --preset default && cmake --build build/default --target kvc_cli
# Takes about 30 minutes on 2 cores. Usage: tools/eval/run_all.sh [KVC] [OUT]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kvc=${1:-$root/build/default/tools/kvc}
out=${2:-$root/docs/results}
cache=${KVC_EVAL_CACHE:-$HOME/.cache/kvc-eval}
trace=$cache/traces/genesis-4096
mkdir -p "$out"
[ -x "$kvc" ] || { echo "no kvc tool at $kvc (cmake --build build/default --target kvc_cli)" >&2; exit 1; }

python3 "$root/tools/eval/check_model.py" --json "$out/check_model.json" | tee "$out/check_model.txt"
[ -f "$trace/meta.json" ] || python3 "$root/tools/eval/trace.py" --out "$trace" --tokens 4096
for P in 1024 2048; do
  # --skip-refused: LoRC refuses the 10% and 20% budgets (below its minimum ranks), a skipped row
  "$kvc" eval --trace "$trace" --prefix "$P" --future 128 --skip-refused --csv "$out/eval_P$P.csv" | tee "$out/eval_P$P.txt"
done
"$kvc" fastgen-map --trace "$trace" --prefix 2048 --csv "$out/fastgen_map.csv" | tee "$out/fastgen_map.txt"
python3 "$root/tools/eval/ppl.py" --kvc "$kvc" --prefixes 1024,1536,2048,2560,3072 --future 256 --csv "$out/ppl.csv" | tee "$out/ppl.txt"
cat "$out"/eval_P*.csv | awk 'NR == 1 || !/^method,/' > "$out/eval.csv"
python3 "$root/tools/eval/plots.py" --eval "$out/eval.csv" --ppl "$out/ppl.csv" --fastgen "$out/fastgen_map.csv" --out "$out"
