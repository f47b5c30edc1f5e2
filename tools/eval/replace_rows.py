#!/usr/bin/env python3
"""Replaces one method's rows of a committed quality run, in place, by those of a later run of the
same prompts (the same texts, windows, tasks, lengths, samples and seed), e.g. after a change to
the method:

  python3 tools/eval/replace_rows.py docs/results/quality build/q/ems ems [SOURCE_METHOD]

SOURCE_METHOD is the method's name in the later run (default METHOD; a run with --label names it
"METHOD[label]"). Every replaced row must match the row it replaces in text, window, task,
length, index, setting, budget, layer and head; then re-run quality.py --report-only on the
committed folder.
"""
import csv
import sys
from pathlib import Path

dst, src, method = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
source = sys.argv[4] if len(sys.argv) > 4 else method
for name in ("divergence.csv", "retrieval.csv", "needle_heads.csv"):
    if not (src / name).is_file():
        continue
    with open(dst / name, newline="") as f:
        r = csv.DictReader(f); fields = r.fieldnames; rows = list(r)
    with open(src / name, newline="") as f:
        new = [dict(x, method=method) for x in csv.DictReader(f) if x["method"] == source]
    old = [i for i, x in enumerate(rows) if x["method"] == method]
    assert len(old) == len(new), (name, len(old), len(new))
    key = [c for c in fields if c in ("text", "window", "task", "length", "index", "setting", "budget", "layer", "head")]
    for i, n in zip(old, new):
        assert all(rows[i][c] == n[c] for c in key), (name, rows[i], n)
        rows[i] = n
    print(name, "replaced", len(new))
    with open(dst / name, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\r\n"); w.writeheader(); w.writerows(rows)
