#!/usr/bin/env python3
"""Minimal stand-in for the kvc command-line tool, implementing the protocol
that ppl.py uses.  It is useful to test the harness without a C++ build and
documents the protocol:

  fake_kvc.py methods --names
      prints the available method names, one per line.

  fake_kvc.py compress --trace TRACE_DIR --prefix P --methods m1,m2
                       --budgets 0.10,0.50 --out OUT_DIR [--skip-refused] [--quiet]
      reads TRACE_DIR/meta.json (and LNN.k/v.npy where needed) and writes,
      for every method m, budget b and traced layer L:
        OUT_DIR/m/{b:.2f}/LNN.mask.npy  float32 [kv_heads, P], 1.0 = kept
      and, for methods that change the kept keys/values,
        OUT_DIR/m/{b:.2f}/LNN.k.npy     float32 [kv_heads, P, head_dim]
        OUT_DIR/m/{b:.2f}/LNN.v.npy     float32 [kv_heads, P, head_dim]
      (post-RoPE keys / values at the kept tokens' original positions).

Methods:
  full_recent    keep token 0 and the most recent round(b*P) tokens.
  recent_tracekv like full_recent, but also writes k/v files taken from the
                 (float16) trace, exercising the k/v replacement path.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

METHODS = ["full_recent", "recent_tracekv"]


def recent_mask(kv_heads: int, P: int, budget: float) -> np.ndarray:
    n = max(1, int(round(budget * P)))
    mask = np.zeros((kv_heads, P), dtype=np.float32)
    mask[:, max(0, P - n):] = 1.0
    mask[:, 0] = 1.0
    return mask


def compress(args) -> int:
    trace = Path(args.trace)
    meta = json.loads((trace / "meta.json").read_text(encoding="utf-8"))
    P = args.prefix
    if not 0 < P <= meta["tokens"]:
        print(f"--prefix {P} outside 1..{meta['tokens']}", file=sys.stderr)
        return 2
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            print(f"unknown method {m!r}", file=sys.stderr)
            return 2
    budgets = [float(b) for b in args.budgets.split(",") if b]
    H = meta["kv_heads"]
    out = Path(args.out)
    for m in methods:
        for b in budgets:
            d = out / m / f"{b:.2f}"
            d.mkdir(parents=True, exist_ok=True)
            mask = recent_mask(H, P, b)
            for L in meta["layers"]:
                p = f"L{L:02d}"
                np.save(d / f"{p}.mask.npy", mask)
                if m == "recent_tracekv":
                    for name in ("k", "v"):
                        arr = np.load(trace / f"{p}.{name}.npy")[:, :P].astype(np.float32)
                        arr[mask == 0] = 0.0
                        np.save(d / f"{p}.{name}.npy", arr)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("methods", help="list method names")
    m.add_argument("--names", action="store_true", help="names only, one per line (the only listing here)")
    c = sub.add_parser("compress", help="compress a traced prefix")
    c.add_argument("--trace", required=True)
    c.add_argument("--prefix", type=int, required=True)
    c.add_argument("--methods", required=True)
    c.add_argument("--budgets", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--skip-refused", action="store_true", help="accepted; these methods refuse no budget")
    c.add_argument("-q", "--quiet", action="store_true", help="accepted; there is no progress to silence")
    args = ap.parse_args()
    if args.cmd == "methods":
        print("\n".join(METHODS))
        return 0
    return compress(args)


if __name__ == "__main__":
    sys.exit(main())
