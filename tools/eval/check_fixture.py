#!/usr/bin/env python3
"""Regenerates the committed test fixture (tests/data/smollm2) and compares it with the committed
one, so the forward pass, the tokenizer and the trace format cannot drift apart from the C++
tests unnoticed. Exits nonzero on any difference beyond float16 rounding.

  python3 tools/eval/check_fixture.py [--fixture tests/data/smollm2]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixture", default=str(ROOT / "tests" / "data" / "smollm2"))
    a = ap.parse_args()
    committed = Path(a.fixture)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "fixture"
        subprocess.run([sys.executable, str(ROOT / "tools" / "eval" / "trace.py"), "--fixture", "--out", str(fresh)],
                       check=True, stdout=subprocess.DEVNULL)
        bad = []
        meta_a = json.loads((committed / "meta.json").read_text())
        meta_b = json.loads((fresh / "meta.json").read_text())
        if meta_a != meta_b:
            bad.append(f"meta.json differs: {meta_a} vs {meta_b}")
        if (committed / "tokens.txt").read_bytes() != (fresh / "tokens.txt").read_bytes():
            bad.append("tokens.txt differs")
        for f in sorted(p.name for p in committed.glob("*.npy")):
            x = np.load(committed / f).astype(np.float64)
            y = np.load(fresh / f).astype(np.float64)
            if x.shape != y.shape:
                bad.append(f"{f}: shape {x.shape} vs {y.shape}")
                continue
            scale = max(float(np.abs(x).max()), 1e-30)
            err = float(np.abs(x - y).max()) / scale
            print(f"{f:14s} max |diff| / max |x| = {err:.2e}")
            if err > 2e-3:  # a few float16 ulps of the largest entry
                bad.append(f"{f}: relative difference {err:.2e}")
    for b in bad:
        print("FAIL:", b)
    print("fixture reproduced" if not bad else "fixture NOT reproduced")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
