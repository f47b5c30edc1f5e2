#!/usr/bin/env python3
"""Dump real attention traces (q, k, v, x, wk, wv) of SmolLM2-135M-Instruct.

Usage:
  python3 tools/eval/trace.py --out DIR [--tokens 4096] [--layers all|0,15,29]
                              [--text tools/eval/data/genesis.txt]
  python3 tools/eval/trace.py --fixture --out DIR     # small unit-test fixture

Trace directory layout (T = number of tokens, BOS included):
  meta.json        model / shape description (see write_trace)
  tokens.npy       int32 [T] token ids
  tokens.txt       raw vocabulary string of each token, one per line, UTF-8,
                   escaped: backslash -> \\\\, newline -> \\n, CR -> \\r, tab -> \\t
  LNN.q.npy        float16 [9, T, 64]  post-RoPE queries
  LNN.k.npy        float16 [3, T, 64]  post-RoPE keys
  LNN.v.npy        float16 [3, T, 64]  values
  LNN.x.npy        float16 [T, 576]    attention-norm output (projection input)
  LNN.wk.npy       float32 [576, 192]  (float16 in the fixture)  pre-RoPE keys = x @ wk
  LNN.wv.npy       float32 [576, 192]  values = x @ wv
Column c of wk/wv belongs to kv head c // 64, dimension c % 64; dimensions are
in the GGUF order, where RoPE rotates adjacent pairs (2i, 2i+1) with angle
pos * rope_theta ** (-2i / 64).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import smollm  # noqa: E402

FIXTURE_LAYERS = [0, 15, 29]
FIXTURE_TOKENS = 384
FIXTURE_MAX_BYTES = 5_000_000
NPY_HEADER = 128
TEXT_DESCRIPTION = ("King James Version (1611), book of Genesis, from the Debian "
                    "package bible-kjv-text 4.38 (public domain; see "
                    "tools/eval/data/SOURCE.md)")


def escape_token(s: str) -> str:
    return (s.replace("\\", "\\\\").replace("\n", "\\n")
             .replace("\r", "\\r").replace("\t", "\\t"))


def parse_layers(spec: str, n_layers: int) -> list[int]:
    if spec.strip().lower() == "all":
        return list(range(n_layers))
    layers = sorted({int(x) for x in spec.split(",") if x.strip()})
    for l in layers:
        if not 0 <= l < n_layers:
            raise SystemExit(f"layer {l} out of range 0..{n_layers - 1}")
    return layers


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())


def estimate_size(cfg: smollm.Config, n_layers: int, T: int, weight_bytes: int = 4) -> int:
    """Approximate bytes of a trace directory (tokens.txt guessed generously)."""
    hd = cfg.head_dim
    per_token = (cfg.n_heads * hd + 2 * cfg.n_kv_heads * hd + cfg.d_model) * 2
    weights = 2 * cfg.d_model * cfg.n_kv_heads * hd * weight_bytes
    per_layer = per_token * T + weights + 6 * NPY_HEADER
    return n_layers * per_layer + 4 * T + NPY_HEADER + 16 * T + 2048


def write_trace(model: smollm.Model, ids: list[int], out_dir: str | os.PathLike,
                layers: list[int], text_desc: str, progress: bool = True,
                weight_dtype=np.float32, keep: list | None = None) -> Path:
    """Run the forward pass over ``ids`` and write the trace files to out_dir.

    The fixture stores wk/wv as float16 (weight_dtype) to fit its size limit. With ``keep`` (a
    list), every traced layer's float32 ``(K, V)`` is appended to it, as ``Model.prefill``
    returns them, so a caller needs no second pass for the cache."""
    from tqdm import tqdm

    cfg = model.cfg
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    T = len(ids)
    hd = cfg.head_dim

    np.save(out / "tokens.npy", np.asarray(ids, dtype=np.int32))
    with open(out / "tokens.txt", "w", encoding="utf-8", newline="\n") as f:
        for s in model.tokenizer.token_strings(ids):
            f.write(escape_token(s) + "\n")

    def record(li: int, d: dict) -> None:
        p = f"L{li:02d}"
        np.save(out / f"{p}.q.npy", d["q"].astype(np.float16))
        np.save(out / f"{p}.k.npy", d["k"].astype(np.float16))
        np.save(out / f"{p}.v.npy", d["v"].astype(np.float16))
        np.save(out / f"{p}.x.npy", d["x"].astype(np.float16))
        if keep is not None:
            keep.append((d["k"].copy(), d["v"].copy()))
        layer = model.layers[li]
        np.save(out / f"{p}.wk.npy", np.ascontiguousarray(layer.wk.T, dtype=weight_dtype))
        np.save(out / f"{p}.wv.npy", np.ascontiguousarray(layer.wv.T, dtype=weight_dtype))

    def bar(it):
        return tqdm(it, total=max(layers) + 1, desc=f"trace {T} tokens",
                    unit="layer", disable=not progress)

    model.hidden(ids, record=record, record_layers=layers, progress=bar,
                 stop_after=max(layers))

    meta = {
        "model": smollm.MODEL_DESCRIPTION,
        "n_layers": cfg.n_layers,
        "layers": list(layers),
        "q_heads": cfg.n_heads,
        "kv_heads": cfg.n_kv_heads,
        "head_dim": hd,
        "d_model": cfg.d_model,
        "rope_theta": float(cfg.rope_theta),
        "rope": "adjacent-pairs",
        "tokens": T,
        "text": text_desc,
        "bos_id": int(model.bos_id),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output trace directory")
    ap.add_argument("--tokens", type=int, default=None,
                    help="number of tokens incl. BOS (default 4096; fixture 384, "
                         "reduced until the fixture fits --max-bytes)")
    ap.add_argument("--layers", default=None,
                    help="'all' or comma-separated layer indices "
                         "(default all; fixture 0,15,29)")
    ap.add_argument("--text", default=str(smollm.DEFAULT_TEXT), help="UTF-8 text file")
    ap.add_argument("--text-desc", default=None,
                    help="description stored in meta.json (default: Genesis KJV "
                         "for the bundled text, else the file name)")
    ap.add_argument("--fixture", action="store_true",
                    help="write the small unit-test fixture")
    ap.add_argument("--max-bytes", type=int, default=FIXTURE_MAX_BYTES,
                    help="size limit of the fixture directory (default 5000000)")
    ap.add_argument("--gguf", default=None, help="GGUF path (default: installed package)")
    ap.add_argument("--force", action="store_true",
                    help="allow writing into a non-empty output directory")
    args = ap.parse_args()

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        existing = {p.name for p in out.iterdir()}
        if "meta.json" not in existing:
            raise SystemExit(f"{out} is not empty and is not a trace directory "
                             "(use --force)")
        shutil.rmtree(out)  # replace an old trace

    t0 = time.time()
    model = smollm.Model.load(args.gguf)
    cfg = model.cfg
    text = smollm.read_text(args.text)
    if args.text_desc:
        desc = args.text_desc
    elif Path(args.text).resolve() == smollm.DEFAULT_TEXT.resolve():
        desc = TEXT_DESCRIPTION
    else:
        desc = Path(args.text).name
    all_ids = smollm.encode_document(model, text)

    if args.fixture:
        layers = parse_layers(args.layers or ",".join(map(str, FIXTURE_LAYERS)),
                              cfg.n_layers)
        T = min(args.tokens or FIXTURE_TOKENS, len(all_ids))
        while T > 16 and estimate_size(cfg, len(layers), T, 2) > args.max_bytes:
            T -= 16
        if T != (args.tokens or FIXTURE_TOKENS):
            print(f"fixture: {len(layers)} layers, tokens reduced to {T} so the "
                  f"directory fits in {args.max_bytes} bytes")
    else:
        layers = parse_layers(args.layers or "all", cfg.n_layers)
        T = args.tokens or 4096

    if T > len(all_ids):
        raise SystemExit(f"text has only {len(all_ids)} tokens, {T} requested")
    if T > cfg.context_length:
        print(f"warning: {T} tokens exceed the model context length "
              f"{cfg.context_length}")

    while True:
        write_trace(model, all_ids[:T], out, layers, desc,
                    weight_dtype=np.float16 if args.fixture else np.float32)
        size = dir_size(out)
        if not args.fixture or size <= args.max_bytes or T <= 16:
            break
        print(f"fixture is {size} bytes > {args.max_bytes}; retrying with fewer tokens")
        shutil.rmtree(out)
        T -= 16

    print(f"wrote {out}: {T} tokens, layers {layers[0]}..{layers[-1]} "
          f"({len(layers)}), {size / 1e6:.2f} MB, {time.time() - t0:.1f}s")
    if args.fixture:
        ok = size <= args.max_bytes
        print(f"fixture size {size} bytes (limit {args.max_bytes}): "
              f"{'OK' if ok else 'TOO LARGE'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
