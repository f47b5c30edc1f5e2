#!/usr/bin/env python3
"""LoRC on SmolLM2-135M, checked without kvc: the singular-value spectra of every layer's K and V
projection weights, and the KL from the full cache of a prefix cache rebuilt from rank-r
truncated weights, computed here in numpy (an independent oracle for kvc's LoRC numbers).

  python3 tools/eval/lorc_check.py --out docs/results/lorc

For each layer l, with x_l the layer's K/V input (the attention norm's output) over the prefix:
  weights alone     W_r = the rank-r SVD truncation of W (LoRC's decomposition)
  keys only         the keys from W_k,r, the values exact (and the converse: values only)
  input-scaled      diag(1/s) (diag(s) W)_r with s_j = RMS of feature j of x_l over the prefix
                    (kvc's scale_by_inputs option)
The prefix's keys K = RoPE(x W_k^T) and values V = x W_v^T are replaced by the rebuilt ones in
every layer at the same rank r (a uniform fraction of the 192 K/V dimensions), and the next F
tokens are teacher-forced against the full cache: KL(full || rebuilt) per token, in nats.

Writes spectra.csv (per layer and weight, decomposed alone or input-scaled: the condition number
and the share of the squared singular values the top 25/50/75/90% of the rank hold), kl.csv
(variant, rank, fraction, kl), spectra.png and a summary on stdout. About 90 s on 2 cores.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402  (windows_of)
import smollm  # noqa: E402


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/results/lorc")
    ap.add_argument("--text", default="genesis")
    ap.add_argument("--prefix", type=int, default=512)
    ap.add_argument("--future", type=int, default=64)
    ap.add_argument("--fractions", default="0.25,0.5,0.75,0.9")
    ap.add_argument("--gguf", default=None)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    m = smollm.Model.load(args.gguf)
    cfg = m.cfg
    hd, H = cfg.head_dim, cfg.n_kv_heads
    cols = H * hd
    ids = quality.windows_of(m, args.text, 1, args.prefix + args.future)[0]
    P = args.prefix
    prefix, future = ids[:P], ids[P:]

    recs: dict[int, dict[str, np.ndarray]] = {}

    def record(li, d):
        recs[li] = {k: v.copy() for k, v in d.items()}

    m.hidden(prefix, record)
    full = [(recs[l]["k"], recs[l]["v"]) for l in range(cfg.n_layers)]
    lp_full = log_softmax(m.continue_with_cache(future[:-1], P, full))

    def kl(caches) -> float:
        lp = log_softmax(m.continue_with_cache(future[:-1], P, caches))
        return float((np.exp(lp_full) * (lp_full - lp)).sum(-1).mean())

    # Spectra (W is [cols, d_model] here, K = x W^T).
    svd = {}
    rows = []
    for l in range(cfg.n_layers):
        x = recs[l]["x"].astype(np.float64)
        scale = np.sqrt((x ** 2).mean(0)) + 1e-12
        for name, W in (("key", m.layers[l].wk), ("value", m.layers[l].wv)):
            W = W.astype(np.float64)
            for kind, A in (("weight", W), ("input-scaled", W * scale[None, :])):
                U, S, Vt = np.linalg.svd(A, full_matrices=False)
                svd[(l, name, kind)] = (U, S, Vt, scale)
                cum = np.cumsum(S ** 2) / (S ** 2).sum()
                row = {"layer": l, "weight": name, "decomposed": kind, "condition": f"{S[0] / S[-1]:.2f}"}
                for frac in (0.25, 0.5, 0.75, 0.9):
                    row[f"kept_at_{frac:.2f}"] = f"{cum[int(round(frac * len(S))) - 1]:.4f}"
                rows.append(row)
    with open(out / "spectra.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)

    def rebuilt(l: int, name: str, kind: str, r: int) -> np.ndarray:
        U, S, Vt, scale = svd[(l, name, kind)]
        Wr = (U[:, :r] * S[:r]) @ Vt[:r]
        if kind == "input-scaled":
            Wr = Wr / scale[None, :]
        y = (recs[l]["x"].astype(np.float64) @ Wr.T).astype(np.float32).reshape(P, H, hd).transpose(1, 0, 2)
        y = np.ascontiguousarray(y)
        return m.rope(y, np.arange(P)) if name == "key" else y

    results = []
    for frac in [float(f) for f in args.fractions.split(",") if f]:
        r = int(round(frac * cols))
        for variant, kind, sides in (("weights alone", "weight", ("key", "value")),
                                     ("keys only", "weight", ("key",)),
                                     ("values only", "weight", ("value",)),
                                     ("input-scaled", "input-scaled", ("key", "value"))):
            caches = []
            for l in range(cfg.n_layers):
                k, v = full[l]
                if "key" in sides:
                    k = rebuilt(l, "key", kind, r)
                if "value" in sides:
                    v = rebuilt(l, "value", kind, r)
                caches.append((k, v))
            value = kl(caches)
            results.append({"variant": variant, "rank": r, "fraction": frac, "kl": f"{value:.4f}"})
            print(f"{variant:14s} rank {r:3d}/{cols} ({frac:.2f}): KL {value:.4f}", flush=True)
    with open(out / "kl.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(results[0].keys()))
        w.writeheader()
        w.writerows(results)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    cmap = matplotlib.colormaps["viridis"].resampled(cfg.n_layers)
    for ax, name in zip(axes, ("key", "value")):
        for l in range(cfg.n_layers):
            for kind, ls in (("weight", "-"), ("input-scaled", ":")):
                S = svd[(l, name, kind)][1]
                cum = np.cumsum(S ** 2) / (S ** 2).sum()
                ax.plot(np.arange(1, len(S) + 1) / len(S), cum, ls, color=cmap(l), lw=0.8,
                        label=None if l else ("W" if kind == "weight" else "diag(s) W"))
        ax.plot([0, 1], [0, 1], "k--", lw=0.6, label="flat spectrum")
        ax.set_title(f"W_{name[0]}: cumulative share of the squared singular values")
        ax.set_xlabel("rank kept / 192")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel("share of ||W||_F^2 (colour: layer 0 to 29)")
    fig.tight_layout()
    fig.savefig(out / "spectra.png", dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
