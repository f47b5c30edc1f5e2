#!/usr/bin/env python3
"""End-to-end perplexity of SmolLM2-135M-Instruct with a compressed KV cache.

For every prefix length P (default 1024 and 2048) the script

  1. prefills the first P tokens of the text (BOS included) with the numpy
     model (full float32 cache);
  2. scores the next F tokens (default 256) with the full cache: the inputs
     are tokens P .. P+F-1, the targets tokens P+1 .. P+F;
  3. runs the kvc command-line tool once for all methods and budgets:
         KVC compress --trace TRACE_DIR --prefix P --methods m1,m2,...
                      --budgets 0.10,0.20,0.50 --out OUT_DIR --skip-refused
  4. for every (method, budget) scores the same F tokens again, with the
     prefix cache of every layer replaced by the compressed one.

The trace directory is the one trace.py writes, with all layers and
T = max(P) + F + 1 tokens; it is cached under the cache directory
($KVC_EVAL_CACHE, default ~/.cache/kvc-eval/traces/).

Output protocol of ``KVC compress`` (for every method m, budget b and layer L):
  OUT_DIR/m/{b:.2f}/LNN.mask.npy   float32 [kv_heads, P], 1.0 = token kept
  OUT_DIR/m/{b:.2f}/LNN.k.npy      float32 [kv_heads, P, head_dim]  (optional)
  OUT_DIR/m/{b:.2f}/LNN.v.npy      float32 [kv_heads, P, head_dim]  (optional)
k/v files are written only by methods that change the kept keys/values
(merging, projection); they hold the compressed post-RoPE keys / values at the
kept tokens' original positions and replace the original prefix cache.
``KVC methods --names`` prints the available method names, one per line.
With ``--skip-refused`` the tool writes no folder for a budget a method refuses
(it says why on stderr) instead of failing. docs/cli.md describes the tool.
See fake_kvc.py for a minimal implementation of this protocol.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import smollm  # noqa: E402


def _load_trace_module():
    # tools/eval/trace.py shares its name with a standard-library module, so
    # load it from its path.
    import importlib.util
    path = Path(__file__).resolve().parent / "trace.py"
    spec = importlib.util.spec_from_file_location("kvc_eval_trace", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


trace_mod = _load_trace_module()

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KVC = "build/demo/tools/kvc"
CSV_COLUMNS = ["method", "budget", "prefix", "future", "ppl_full", "ppl",
               "delta_ppl", "kept_fraction"]


def resolve_kvc(cmd: str) -> list[str]:
    """Split the tool command; a relative program path may be relative to
    the current directory or to the repository root."""
    argv = shlex.split(cmd)
    if not argv:
        raise SystemExit("--kvc is empty")
    prog = Path(argv[0])
    if shutil.which(argv[0]) is None and not prog.is_absolute():
        alt = REPO_ROOT / prog
        if alt.exists():
            argv[0] = str(alt)
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise SystemExit(
            f"kvc tool not found: {argv[0]!r}.  Build it (see the top-level "
            f"README) or pass --kvc PATH; for a dry run of this harness use "
            f"--kvc \"python3 tools/eval/fake_kvc.py\".")
    return argv


def run_tool(argv: list[str]) -> str:
    res = subprocess.run(argv, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit(f"command failed ({res.returncode}): {shlex.join(argv)}")
    return res.stdout


def trace_is_valid(path: Path, ids: list[int], n_layers: int) -> bool:
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        toks = np.load(path / "tokens.npy")
    except Exception:
        return False
    return (meta.get("tokens") == len(ids) and meta.get("layers") == list(range(n_layers))
            and np.array_equal(toks, np.asarray(ids, dtype=np.int32))
            and all((path / f"L{l:02d}.{s}.npy").is_file()
                    for l in range(n_layers) for s in ("q", "k", "v", "x", "wk", "wv")))


def ensure_trace(model: smollm.Model, ids: list[int], text_path: Path,
                 desc: str, explicit: str | None) -> Path:
    n_layers = model.cfg.n_layers
    if explicit:
        path = Path(explicit)
        if trace_is_valid(path, ids, n_layers):
            return path
        if path.exists() and any(path.iterdir()):
            raise SystemExit(f"--trace {path} does not match this text/token count "
                             f"(need all {n_layers} layers and {len(ids)} tokens)")
    else:
        digest = hashlib.sha256(np.asarray(ids, dtype=np.int32).tobytes()).hexdigest()[:12]
        path = smollm.cache_dir() / "traces" / f"{text_path.stem}-T{len(ids)}-{digest}"
        if trace_is_valid(path, ids, n_layers):
            print(f"using cached trace {path}")
            return path
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    print(f"writing trace ({len(ids)} tokens, all layers) to {path}")
    trace_mod.write_trace(model, ids, tmp, list(range(n_layers)), desc)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def load_compressed(out_dir: Path, method: str, budget: float, P: int,
                    full: list[tuple[np.ndarray, np.ndarray]], cfg: smollm.Config):
    """Per-layer (K, V, mask) of one method/budget; returns (caches, kept)."""
    d = out_dir / method / f"{budget:.2f}"
    caches = []
    kept = []
    for li, (K, V) in enumerate(full):
        p = f"L{li:02d}"
        mpath = d / f"{p}.mask.npy"
        if not mpath.is_file():
            raise SystemExit(f"missing kvc output {mpath}")
        mask = np.load(mpath)
        if mask.shape != (cfg.n_kv_heads, P):
            raise SystemExit(f"{mpath}: shape {mask.shape}, expected "
                             f"{(cfg.n_kv_heads, P)}")
        kept.append(float(mask.mean()))
        for name in ("k", "v"):
            fpath = d / f"{p}.{name}.npy"
            if fpath.is_file():
                arr = np.load(fpath).astype(np.float32)
                if arr.shape != K.shape:
                    raise SystemExit(f"{fpath}: shape {arr.shape}, expected {K.shape}")
                if name == "k":
                    K = arr
                else:
                    V = arr
        caches.append((K, V, mask > 0.5))
    # Methods that compress by projection (LoRC) keep every token; the tool states the memory kept.
    stated = d / "kept_fraction.txt"
    if stated.is_file():
        return caches, float(stated.read_text().strip())
    return caches, float(np.mean(kept))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kvc", default=DEFAULT_KVC,
                    help=f"kvc tool command (may contain arguments; default {DEFAULT_KVC})")
    ap.add_argument("--text", default=str(smollm.DEFAULT_TEXT), help="UTF-8 text file")
    ap.add_argument("--prefixes", default="1024,2048",
                    help="comma-separated prefix lengths P (tokens, BOS included)")
    ap.add_argument("--future", type=int, default=256,
                    help="number of scored tokens F after each prefix")
    ap.add_argument("--methods", default=None,
                    help="comma-separated methods (default: all from 'kvc methods')")
    ap.add_argument("--budgets", default="0.1,0.2,0.5",
                    help="comma-separated kept fractions")
    ap.add_argument("--csv", default=None, metavar="PATH", help="write results as CSV")
    ap.add_argument("--trace", default=None,
                    help="trace directory to use/create (default: cached)")
    ap.add_argument("--work-dir", default=None,
                    help="directory for kvc outputs (default: temporary, removed)")
    ap.add_argument("--gguf", default=None, help="GGUF path (default: installed package)")
    args = ap.parse_args()

    from tqdm import tqdm

    t_start = time.time()
    kvc = resolve_kvc(args.kvc)
    prefixes = [int(x) for x in args.prefixes.split(",") if x.strip()]
    budgets = [float(x) for x in args.budgets.split(",") if x.strip()]
    F = args.future
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    else:
        methods = [l.strip() for l in run_tool(kvc + ["methods", "--names"]).splitlines() if l.strip()]
    if not methods:
        raise SystemExit("no methods to evaluate")
    print(f"methods: {', '.join(methods)}")
    print(f"budgets: {', '.join(f'{b:.2f}' for b in budgets)}")

    model = smollm.Model.load(args.gguf)
    cfg = model.cfg
    text_path = Path(args.text)
    text = smollm.read_text(text_path)
    T = max(prefixes) + F + 1
    ids = smollm.encode_document(model, text, T)
    if len(ids) < T:
        raise SystemExit(f"text has only {len(ids)} tokens, {T} needed")
    desc = (trace_mod.TEXT_DESCRIPTION
            if text_path.resolve() == smollm.DEFAULT_TEXT.resolve() else text_path.name)
    trace_dir = ensure_trace(model, ids, text_path, desc, args.trace)

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="kvc-ppl-"))
    rows = []
    try:
        bar = tqdm(total=len(prefixes) * (2 + len(methods) * len(budgets)),
                   desc="ppl", unit="step")
        for P in prefixes:
            inputs = ids[P:P + F]
            targets = ids[P + 1:P + F + 1]
            bar.set_postfix_str(f"prefill P={P}")
            full = model.prefill(ids[:P])
            full_masked = [(K, V, np.ones(K.shape[:2], dtype=bool)) for K, V in full]
            nll_full = model.nll(model.continue_hidden(inputs, P, full_masked), targets)
            ppl_full = float(np.exp(nll_full.mean()))
            bar.update(1)

            out_dir = work / f"P{P}"
            if out_dir.exists():
                shutil.rmtree(out_dir)
            out_dir.mkdir(parents=True)
            bar.set_postfix_str(f"kvc compress P={P}")
            run_tool(kvc + ["compress", "--trace", str(trace_dir), "--prefix", str(P),
                            "--methods", ",".join(methods),
                            "--budgets", ",".join(f"{b:.2f}" for b in budgets),
                            "--out", str(out_dir), "--skip-refused"])
            bar.update(1)

            for m in methods:
                for b in budgets:
                    bar.set_postfix_str(f"P={P} {m} {b:.2f}")
                    if not (out_dir / m / f"{b:.2f}").is_dir():
                        # --skip-refused: no folder for a budget the method refuses
                        bar.update(1)
                        continue
                    caches, kept = load_compressed(out_dir, m, b, P, full, cfg)
                    nll = model.nll(model.continue_hidden(inputs, P, caches), targets)
                    ppl = float(np.exp(nll.mean()))
                    rows.append({"method": m, "budget": f"{b:.2f}", "prefix": P,
                                 "future": F, "ppl_full": round(ppl_full, 6),
                                 "ppl": round(ppl, 6),
                                 "delta_ppl": round(ppl - ppl_full, 6),
                                 "kept_fraction": round(kept, 6)})
                    bar.update(1)
        bar.close()
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    hdr = (f"{'method':<24} {'budget':>6} {'prefix':>6} {'future':>6} "
           f"{'ppl_full':>9} {'ppl':>9} {'delta':>8} {'kept':>6}")
    print("\n" + hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['method']:<24} {r['budget']:>6} {r['prefix']:>6} {r['future']:>6} "
              f"{r['ppl_full']:>9.3f} {r['ppl']:>9.3f} {r['delta_ppl']:>+8.3f} "
              f"{r['kept_fraction']:>6.3f}")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            w.writeheader()
            w.writerows(rows)
        print(f"wrote {args.csv}")
    print(f"total time {time.time() - t_start:.1f}s")
    bad = [r for r in rows if not math.isfinite(r["ppl"])]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
