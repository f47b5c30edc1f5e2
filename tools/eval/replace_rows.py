"""Replace one method's rows in a committed quality run, in place, by those of a later run of the same prompts."""
import csv, sys
from pathlib import Path
dst, src, method = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
for name in ("divergence.csv", "retrieval.csv", "needle_heads.csv"):
    if not (src / name).is_file():
        continue
    with open(dst / name, newline="") as f:
        r = csv.DictReader(f); fields = r.fieldnames; rows = list(r)
    with open(src / name, newline="") as f:
        new = [x for x in csv.DictReader(f) if x["method"] == method]
    old = [i for i, x in enumerate(rows) if x["method"] == method]
    assert len(old) == len(new), (name, len(old), len(new))
    key = [c for c in fields if c in ("text", "window", "task", "length", "index", "setting", "budget", "layer", "head")]
    for i, n in zip(old, new):
        assert all(rows[i][c] == n[c] for c in key), (name, rows[i], n)
        rows[i] = n
    print(name, "replaced", len(new))
    with open(dst / name, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\r\n"); w.writeheader(); w.writerows(rows)
