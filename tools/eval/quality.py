#!/usr/bin/env python3
"""kvc's quality benchmark on SmolLM2-135M-Instruct: token-level divergence from the full cache
over several texts, and synthetic retrieval tasks, for every kvc method and budget.

Divergence. Each text (tools/eval/data/SOURCE.md) gives --windows windows of P + F + 1 tokens
(BOS first) at evenly spaced offsets. The first P tokens are prefilled and traced once, `kvc
compress` runs once for every method and budget, and the next F tokens are teacher-forced with
the full cache and with every compressed one. Per scored token: KL(full || compressed) of the
next-token distribution (nats), whether the top-1 tokens agree, and the negative log-likelihood
of the real next token (perplexity is the secondary column).

Retrieval, in the manner of RULER: passkey, multi-key needle in a haystack (four keys, one
asked) and variable tracking (a chain of assignments, the last variable's value asked), over
haystacks of real text, with a fixed seed. Each prompt is traced once and compressed twice:
question-agnostic (the context compressed before the question is seen; the question and the
answer then run on the compressed cache) and query-aware (everything up to the prompt's last
token compressed, so the observation window holds the question). The answer is teacher-forced:
a prompt is answered when the greedy token is the answer's at every answer position, which is
what greedy decoding would print. For every (layer, kv head) the script also records whether
the compressed cache kept every token of the asked needle's value.

Statistics. Intervals are 95% percentile intervals of a bootstrap that resamples windows within
each text (divergence) or prompts within each task and length (retrieval), never tokens alone;
pooled divergence is the mean of the per-text means. "A beats B" means the interval of the
paired difference (the same resamples for both) excludes zero. Rank agreement between texts is
Spearman's rho of the methods' mean KL.

  python3 tools/eval/quality.py [--kvc build/work/tools/kvc] [--out docs/results/quality]
  python3 tools/eval/quality.py --quick --check-bounds tools/eval/quality_bounds.json   # CI
  python3 tools/eval/quality.py --report-only --out DIR     # tables and plots from DIR's CSVs

Outputs in --out: divergence.csv (per window, method, budget: token sums), retrieval.csv (per
prompt, setting, method, budget), calibration.csv (full-cache retrieval per length),
needle_heads.csv (per layer and head: the share of prompts whose needle value it kept),
summary.json, report.md and PNG plots.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ppl  # noqa: E402  (resolve_kvc, run_tool, load_compressed, trace_mod)
import smollm  # noqa: E402

DATA = HERE / "data"
# name: (file, kind)
TEXTS = {
    "genesis": ("genesis.txt", "narrative, scripture (KJV Genesis)"),
    "alice": ("alice.txt", "narrative fiction (Alice's Adventures in Wonderland)"),
    "workshop": ("workshop.txt", "expository, technical (LoC Workshop on Electronic Texts)"),
    "as_you_like_it": ("as_you_like_it.txt", "dialogue, drama (As You Like It)"),
}
HAYSTACK_TEXTS = ["workshop", "alice", "genesis"]
TASKS = ["passkey", "multikey", "vartrack"]
SETTINGS = ["agnostic", "aware"]
DEPTHS = [0.1, 0.3, 0.5, 0.7, 0.9]
WORDS = ["lantern", "harbor", "violet", "granite", "meadow", "copper", "falcon", "orchard",
         "thimble", "glacier", "saffron", "compass"]
BOOT = 2000
HOPS = 2  # variable tracking: assignments after the first (RULER's default is 4)
DEFAULT_KVC = "build/work/tools/kvc"
DEFAULT_OUT = "docs/results/quality"


# ---------------------------------------------------------------------------------------------
# Model helpers

def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def full_masked(caches, P: int):
    return [(K[:, :P], V[:, :P], np.ones((K.shape[0], P), dtype=bool)) for K, V in caches]


PARAMS: list[str] = []  # --param METHOD.NAME=VALUE, passed to every kvc compress
LABEL = ""  # --label: appended to the method names in the results


def compress(kvc, trace_dir: Path, P: int, methods, budgets, out_dir: Path) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    ppl.run_tool(kvc + ["compress", "--trace", str(trace_dir), "--prefix", str(P)]
                 + [a for p in PARAMS for a in ("--param", p)] + [
                        "--methods", ",".join(methods),
                        "--budgets", ",".join(f"{b:.2f}" for b in budgets),
                        "--out", str(out_dir), "--skip-refused", "--quiet"])


def trace(model, ids, work: Path, desc: str):
    """Writes the trace of ids to work/trace and returns the float32 (K, V) of every layer."""
    d = work / "trace"
    if d.exists():
        shutil.rmtree(d)
    keep: list = []
    ppl.trace_mod.write_trace(model, list(ids), d, list(range(model.cfg.n_layers)), desc,
                              progress=False, keep=keep)
    return d, keep


def runs(methods, budgets, out_dir: Path):
    """(method, its name in the results, budget, folder or None when the method refused the budget)."""
    for m in methods:
        for b in budgets:
            d = out_dir / m / f"{b:.2f}"
            yield m, m + LABEL, b, (d if d.is_dir() else None)


# ---------------------------------------------------------------------------------------------
# Divergence

def windows_of(model, name: str, count: int, length: int) -> list[list[int]]:
    text = smollm.read_text(DATA / TEXTS[name][0])
    ids = model.tokenizer.encode(text)
    if len(ids) < length:
        raise SystemExit(f"{name}: {len(ids)} tokens, a window needs {length}")
    span = len(ids) - (length - 1)
    starts = [0] if count == 1 else [round(i * (span - 1) / (count - 1)) for i in range(count)]
    return [[model.bos_id] + ids[s:s + length - 1] for s in starts]


def divergence(model, kvc, args, methods, budgets, work: Path, bar) -> list[dict]:
    cfg = model.cfg
    P, F = args.prefix, args.future
    rows = []
    for text in args.texts:
        for w, ids in enumerate(windows_of(model, text, args.windows, P + F + 1)):
            bar.set_postfix_str(f"divergence {text} #{w}")
            tdir, caches = trace(model, ids[:P], work, f"{text} window {w}")
            out = work / "div"
            compress(kvc, tdir, P, methods, budgets, out)
            inputs, targets = ids[P:P + F], np.asarray(ids[P + 1:P + F + 1])
            lp_full = log_softmax(model.logits(model.continue_hidden(inputs, P, full_masked(caches, P))))
            top_full = lp_full.argmax(-1)
            p_full = np.exp(lp_full)
            nll_full = -lp_full[np.arange(F), targets]
            bar.update(1)
            for m, name, b, d in runs(methods, budgets, out):
                row = {"text": text, "window": w, "method": name, "budget": f"{b:.2f}", "prefix": P,
                       "tokens": F}
                if d is None:
                    rows.append({**row, "refused": 1})
                    bar.update(1)
                    continue
                comp, kept = ppl.load_compressed(out, m, b, P, [(K[:, :P], V[:, :P]) for K, V in caches], cfg)
                lp = log_softmax(model.logits(model.continue_hidden(inputs, P, comp)))
                kl = (p_full * (lp_full - lp)).sum(-1)
                rows.append({**row, "refused": 0, "kept_fraction": round(kept, 6),
                             "kl_sum": float(kl.sum()), "top1_sum": int((lp.argmax(-1) == top_full).sum()),
                             "nll_sum": float((-lp[np.arange(F), targets]).sum()),
                             "nll_full_sum": float(nll_full.sum())})
                bar.update(1)
    return rows


# ---------------------------------------------------------------------------------------------
# Retrieval prompts

class Haystack:
    """Sentences of the haystack texts as token lists, in text order."""

    def __init__(self, model):
        import re
        self.tok = model.tokenizer
        self.texts = []
        for name in HAYSTACK_TEXTS:
            text = smollm.read_text(DATA / TEXTS[name][0])
            sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
            self.texts.append([self.tok.encode(" " + " ".join(s.split())) for s in sents])

    def take(self, rng, text_index: int, n_tokens: int) -> list[list[int]]:
        sents = self.texts[text_index % len(self.texts)]
        start = int(rng.integers(0, len(sents) // 2))
        out, n = [], 0
        i = start
        while n < n_tokens:
            s = sents[i % len(sents)]
            out.append(s)
            n += len(s)
            i += 1
        return out


def fit(sents: list[list[int]], n_tokens: int) -> list[list[int]]:
    """Drops sentences from the end until the haystack has at most n_tokens tokens, then trims
    the last one."""
    out, n = [], 0
    for s in sents:
        if n + len(s) > n_tokens:
            if n_tokens - n > 0:
                out.append(s[:n_tokens - n])
            break
        out.append(s)
        n += len(s)
    return out


def insert(sents: list[list[int]], needles: list[tuple[float, list[int], int]]):
    """Inserts needles (depth in [0, 1], tokens, id) at the sentence boundaries nearest their
    depths; returns the token list and {id: start offset of the needle}."""
    total = sum(len(s) for s in sents)
    bounds = np.cumsum([0] + [len(s) for s in sents])
    at = defaultdict(list)
    for depth, toks, nid in needles:
        k = int(np.argmin(np.abs(bounds - depth * total)))
        at[k].append((toks, nid))
    out: list[int] = []
    where = {}
    for k in range(len(sents) + 1):
        for toks, nid in at.get(k, []):
            where[nid] = len(out)
            out.extend(toks)
        if k < len(sents):
            out.extend(sents[k])
    return out, where


def make_prompt(model, hay: Haystack, task: str, length: int, index: int, seed: int) -> dict:
    """One retrieval prompt of `length` tokens (BOS + context + question) and its answer."""
    rng = np.random.default_rng([seed, TASKS.index(task), length, index])
    enc = model.tokenizer.encode
    depth = DEPTHS[index % len(DEPTHS)]
    if task == "passkey":
        key = str(int(rng.integers(10000, 100000)))
        value = enc(" " + key)
        intro = enc("There is a pass key hidden in the following text. Memorize it: I will ask you for it.")
        needle = enc(f" The pass key is {key}. Remember it. {key} is the pass key.")
        needles = [(depth, needle, 0)]
        value_at = [(0, len(enc(" The pass key is")))]
        question = enc("\nWhat is the pass key? The pass key is")
    elif task == "multikey":
        words = rng.choice(WORDS, size=4, replace=False)
        nums = [str(int(rng.integers(100000, 1000000))) for _ in words]
        needles, value_at = [], []
        others = [d for d in DEPTHS if d != depth]
        odepths = rng.choice(others, size=3, replace=False)
        for j, (w, n) in enumerate(zip(words, nums)):
            d = depth if j == 0 else float(odepths[j - 1])
            needles.append((d, enc(f" The special magic number for {w} is {n}. Remember it: {n} is the magic number for {w}."), j))
        value_at = [(0, len(enc(f" The special magic number for {words[0]} is")))]
        value = enc(" " + nums[0])
        intro = enc("Some special magic numbers are hidden in the following text. Memorize them: I will ask "
                    "you for one of them.")
        question = enc(f"\nWhat is the special magic number for {words[0]} mentioned in the provided text? "
                       f"The special magic number for {words[0]} mentioned in the provided text is")
    elif task == "vartrack":
        letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        names = ["".join(rng.choice(letters, size=5)) for _ in range(HOPS + 1)]
        num = str(int(rng.integers(10000, 100000)))
        value = enc(" " + num)
        intro = enc("Variables are assigned in the following text. Memorize their values: I will ask you for one.")
        # the first assignment at the prompt's depth, the hops after it spread to the end
        ds = list(np.linspace(depth, min(0.95, depth + 0.4), len(names)))
        needles = [(ds[0], enc(f" VAR {names[0]} = {num}. Remember it: {num} is VAR {names[0]}."), 0)]
        for j in range(1, len(names)):
            needles.append((ds[j], enc(f" VAR {names[j]} = VAR {names[j - 1]}."), j))
        value_at = [(0, len(enc(f" VAR {names[0]} =")))]
        question = enc(f"\nWhat is the value of VAR {names[-1]}? The value of VAR {names[-1]} is")
    else:
        raise SystemExit(f"unknown task {task!r}")
    # The question ends with the answer's leading space token, so the answer is its digits alone.
    question = question + value[:1]
    answer = value[1:]
    n_hay = length - 1 - len(intro) - len(question) - sum(len(n[1]) for n in needles)
    sents = fit(hay.take(rng, index, n_hay + 200), n_hay)
    context, where = insert(sents, needles)
    head = [model.bos_id] + intro
    ids = head + context + question
    value_pos = [len(head) + where[nid] + off + 1 + j for nid, off in value_at for j in range(len(answer))]
    assert [ids[p] for p in value_pos] == answer, "needle value tokens misplaced"
    return {"task": task, "length": len(ids), "index": index, "depth": depth, "ids": ids,
            "context": len(head) + len(context), "answer": answer, "value_pos": value_pos}


def answered(model, caches, start: int, cont: list[int], answer: list[int]) -> tuple[bool, float]:
    """Teacher-forces cont + answer after a prefix of `start` tokens: (every answer token is the
    greedy one, the share of answer tokens that are)."""
    ids = cont + answer[:-1]
    h = model.continue_hidden(ids, start, caches)
    rows = h[len(cont) - 1:]
    pred = model.logits(rows).argmax(-1)
    hits = pred == np.asarray(answer)
    return bool(hits.all()), float(hits.mean())


def calibration(model, hay, args, bar) -> list[dict]:
    rows = []
    for task in args.calib_tasks:
        for length in args.calib_lengths:
            for i in range(args.samples):
                bar.set_postfix_str(f"full cache {task} {length}")
                pr = make_prompt(model, hay, task, length, i, args.seed)
                ids = pr["ids"]
                caches = model.prefill(ids[:-1])
                ok, share = answered(model, full_masked(caches, len(ids) - 1), len(ids) - 1, ids[-1:], pr["answer"])
                rows.append({"task": task, "length": length, "index": i, "depth": pr["depth"],
                             "correct": int(ok), "answer_tokens": round(share, 4)})
                bar.update(1)
    return rows


def retrieval(model, kvc, hay, args, methods, budgets, work: Path, bar):
    cfg = model.cfg
    rows, heads = [], defaultdict(lambda: np.zeros((cfg.n_layers, cfg.n_kv_heads)))
    counts = defaultdict(int)
    for task in args.tasks:
        for length in args.lengths:
            for i in range(args.samples):
                pr = make_prompt(model, hay, task, length, i, args.seed)
                ids, C, ans = pr["ids"], pr["context"], pr["answer"]
                T = len(ids)
                bar.set_postfix_str(f"retrieval {task} {length} #{i}")
                tdir, caches = trace(model, ids, work, f"{task} {length} #{i}")
                base = {"task": task, "length": T, "index": i, "depth": pr["depth"]}
                for setting in SETTINGS:
                    P = C if setting == "agnostic" else T - 1
                    cont = ids[C:] if setting == "agnostic" else ids[-1:]
                    ok, share = answered(model, full_masked(caches, P), P, cont, ans)
                    rows.append({**base, "setting": setting, "method": "full", "budget": "1.00",
                                 "refused": 0, "kept_fraction": 1.0, "correct": int(ok),
                                 "answer_tokens": round(share, 4), "needle_kept": 1.0})
                    out = work / f"ret-{setting}"
                    compress(kvc, tdir, P, methods, budgets, out)
                    bar.update(1)
                    sliced = [(K[:, :P], V[:, :P]) for K, V in caches]
                    for m, name, b, d in runs(methods, budgets, out):
                        row = {**base, "setting": setting, "method": name, "budget": f"{b:.2f}"}
                        if d is None:
                            rows.append({**row, "refused": 1})
                            bar.update(1)
                            continue
                        comp, kept = ppl.load_compressed(out, m, b, P, sliced, cfg)
                        ok, share = answered(model, comp, P, cont, ans)
                        kept_all = np.array([[mask[h, pr["value_pos"]].all() for h in range(cfg.n_kv_heads)]
                                             for _, _, mask in comp], dtype=float)
                        key = (task, length, setting, name, f"{b:.2f}")
                        heads[key] += kept_all
                        counts[key] += 1
                        rows.append({**row, "refused": 0, "kept_fraction": round(kept, 6),
                                     "correct": int(ok), "answer_tokens": round(share, 4),
                                     "needle_kept": round(float(kept_all.mean()), 4)})
                        bar.update(1)
    head_rows = []
    for key, acc in heads.items():
        for l in range(cfg.n_layers):
            for h in range(cfg.n_kv_heads):
                head_rows.append({"task": key[0], "length": key[1], "setting": key[2], "method": key[3],
                                  "budget": key[4], "layer": l, "head": h,
                                  "kept_share": round(float(acc[l, h] / counts[key]), 4),
                                  "prompts": counts[key]})
    return rows, head_rows


# ---------------------------------------------------------------------------------------------
# Statistics

def bootstrap_means(groups: list[tuple[np.ndarray, np.ndarray]], rng, n: int = BOOT) -> np.ndarray:
    """Resamples clusters within each group; a group's statistic is sum(values)/sum(weights) over
    its resampled clusters and the result the mean over groups. groups: [(values [M, C], weights
    [C])] for M series (methods) sharing the C clusters; returns [n, M]."""
    out = np.zeros((n, groups[0][0].shape[0]))
    for vals, wts in groups:
        C = len(wts)
        idx = rng.integers(0, C, size=(n, C))
        out += vals[:, idx].sum(-1).T / wts[idx].sum(-1)[:, None]
    return out / len(groups)


def interval(samples: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


def spearman(a, b) -> float:
    def ranks(x):
        x = np.asarray(x, dtype=float)
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for v in np.unique(x):  # ties share their mean rank
            r[x == v] = r[x == v].mean()
        return r
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    cols = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def analyse(out: Path, seed: int, include: list[Path] = ()) -> dict:
    """The summary of the CSVs in `out` and in every folder of `include` (runs of the same
    prompts with other methods or parameters: their full-cache rows are left out)."""
    rng = np.random.default_rng(seed)
    div = read_csv(out / "divergence.csv")
    ret = read_csv(out / "retrieval.csv")
    cal = read_csv(out / "calibration.csv")
    for extra in include:
        div += read_csv(extra / "divergence.csv")
        ret += [r for r in read_csv(extra / "retrieval.csv") if r["method"] != "full"]
    s: dict = {"divergence": {}, "retrieval": {}, "calibration": {}, "pairs": {}, "texts": {},
               "recommendation": {}, "rank_correlation": {}}
    budgets = sorted({r["budget"] for r in div} | {r["budget"] for r in ret if r["method"] != "full"})
    methods = list(dict.fromkeys([r["method"] for r in div] + [r["method"] for r in ret if r["method"] != "full"]))
    texts = list(dict.fromkeys(r["text"] for r in div))
    s["methods"], s["budgets"], s["texts_used"] = methods, budgets, texts

    # -- divergence: per (budget) a [M, windows] table per text
    for b in budgets:
        ok = [m for m in methods
              if any(r["method"] == m and r["budget"] == b and r["refused"] == "0" for r in div)
              and all(r["refused"] == "0" for r in div if r["method"] == m and r["budget"] == b)]
        if not ok or not texts:
            continue
        groups = {k: [] for k in ("kl", "top1", "nll", "nllf")}
        per_text = {}
        for t in texts:
            wins = sorted({int(r["window"]) for r in div if r["text"] == t})
            tab = {(r["method"], int(r["window"])): r for r in div if r["text"] == t and r["budget"] == b}
            wts = np.array([float(tab[(ok[0], w)]["tokens"]) for w in wins])
            for k, col in (("kl", "kl_sum"), ("top1", "top1_sum"), ("nll", "nll_sum"), ("nllf", "nll_full_sum")):
                vals = np.array([[float(tab[(m, w)][col]) for w in wins] for m in ok])
                groups[k].append((vals, wts))
            kl_t = groups["kl"][-1][0].sum(1) / wts.sum()
            per_text[t] = {m: float(kl_t[i]) for i, m in enumerate(ok)}
        state = rng.bit_generator.state
        boots = {}
        for k in groups:
            rng.bit_generator.state = state  # the same resamples for every measure
            boots[k] = bootstrap_means(groups[k], rng)
        point = {k: np.mean([v.sum(1) / w.sum() for v, w in groups[k]], axis=0) for k in groups}
        kept = {m: np.mean([float(r["kept_fraction"]) for r in div if r["method"] == m and r["budget"] == b])
                for m in ok}
        s["divergence"][b] = {
            m: {"kl": float(point["kl"][i]), "kl_ci": interval(boots["kl"][:, i]),
                "top1": float(point["top1"][i]), "top1_ci": interval(boots["top1"][:, i]),
                "ppl": float(math.exp(point["nll"][i])), "ppl_full": float(math.exp(point["nllf"][i])),
                "kept_fraction": float(kept[m])}
            for i, m in enumerate(ok)}
        s["texts"][b] = per_text
        # pairwise: A beats B when the interval of KL_B - KL_A is above 0
        order = np.argsort(point["kl"])
        beats = []
        for i in range(len(ok)):
            for j in range(len(ok)):
                if i != j:
                    lo, hi = interval(boots["kl"][:, j] - boots["kl"][:, i])
                    if lo > 0:
                        beats.append([ok[i], ok[j]])
        pairs = len(ok) * (len(ok) - 1) // 2
        best, second = ok[order[0]], (ok[order[1]] if len(ok) > 1 else None)
        diff = interval(boots["kl"][:, order[1]] - boots["kl"][:, order[0]]) if second else (0, 0)
        tied = [ok[k] for k in order[1:] if interval(boots["kl"][:, k] - boots["kl"][:, order[0]])[0] <= 0]
        s["pairs"][b] = {"separated": len(beats), "pairs": pairs, "beats": beats}
        rec = {"best": best, "runner_up": second, "diff_ci": diff, "separated": bool(diff[0] > 0),
               "tied_with_best": tied}
        # rank agreement between texts
        rhos = {}
        for x in range(len(texts)):
            for y in range(x + 1, len(texts)):
                rhos[f"{texts[x]}~{texts[y]}"] = spearman([per_text[texts[x]][m] for m in ok],
                                                           [per_text[texts[y]][m] for m in ok])
        s["rank_correlation"][b] = rhos
        # where each text would put the best method
        rec["best_per_text"] = {t: min(per_text[t], key=per_text[t].get) for t in texts}
        s["recommendation"][b] = rec

    # -- retrieval
    for setting in SETTINGS:
        rs = [r for r in ret if r["setting"] == setting]
        if not rs:
            continue
        res = {}
        cells = sorted({(r["task"], r["length"]) for r in rs})
        for b in ["1.00"] + budgets:
            ms = ["full"] if b == "1.00" else [m for m in methods if any(
                r["method"] == m and r["budget"] == b and r["refused"] == "0" for r in rs)]
            if not ms:
                continue
            groups = []
            for task, length in cells:
                tab = {(r["method"], r["index"]): r for r in rs if r["task"] == task and r["length"] == length
                       and r["budget"] == b}
                idx = sorted({r["index"] for r in rs if r["task"] == task and r["length"] == length})
                vals = np.array([[float(tab[(m, i)]["correct"]) if (m, i) in tab and tab[(m, i)]["refused"] == "0"
                                  else np.nan for i in idx] for m in ms])
                groups.append((vals, np.ones(len(idx))))
            good = [k for k, m in enumerate(ms) if not np.isnan(np.concatenate([g[0][k] for g in groups])).any()]
            ms = [ms[k] for k in good]
            groups = [(v[good], w) for v, w in groups]
            if not ms:
                continue
            boots = bootstrap_means(groups, rng)
            point = np.mean([v.sum(1) / w.sum() for v, w in groups], axis=0)
            by_task = defaultdict(dict)
            for (task, length), (v, w) in zip(cells, groups):
                for k, m in enumerate(ms):
                    by_task[m][f"{task}@{length}"] = float(v[k].mean())
            needle = {m: float(np.mean([float(r["needle_kept"]) for r in rs if r["method"] == m and
                                        r["budget"] == b and r["refused"] == "0"])) for m in ms}
            res[b] = {m: {"accuracy": float(point[k]), "ci": interval(boots[:, k]), "cells": by_task[m],
                          "needle_kept": needle[m]} for k, m in enumerate(ms)}
            if b != "1.00" and len(ms) > 1:
                order = np.argsort(-point)
                d = interval(boots[:, order[0]] - boots[:, order[1]])
                res[b]["_best"] = {"best": ms[order[0]], "runner_up": ms[order[1]], "diff_ci": d,
                                   "separated": bool(d[0] > 0),
                                   "tied_with_best": [ms[k] for k in order[1:]
                                                      if interval(boots[:, order[0]] - boots[:, k])[0] <= 0]}
        s["retrieval"][setting] = res
    for r in cal:
        key = f"{r['task']}@{r['length']}"
        s["calibration"].setdefault(key, []).append(int(r["correct"]))
    s["calibration"] = {k: {"accuracy": float(np.mean(v)), "prompts": len(v)} for k, v in s["calibration"].items()}
    return s


# ---------------------------------------------------------------------------------------------
# Report

def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def report(out: Path, s: dict, meta: dict) -> str:
    L = []
    add = L.append
    add("# kvc quality benchmark: SmolLM2-135M-Instruct\n")
    add(f"Generated by `tools/eval/quality.py` ({meta.get('command', '')}); wall time "
        f"{meta.get('wall_s', 0) / 60:.1f} min on {meta.get('machine', 'this machine')}.\n")
    add(f"Divergence: texts {', '.join(s['texts_used'])}; {meta.get('windows')} windows per text, prefix "
        f"{meta.get('prefix')} tokens, {meta.get('future')} scored tokens each. Retrieval: tasks "
        f"{', '.join(meta.get('tasks', []))} at {', '.join(map(str, meta.get('lengths', [])))} tokens, "
        f"{meta.get('samples')} prompts per task and length (needle depths {', '.join(map(str, DEPTHS))}). "
        "Intervals: 95% bootstrap (windows within texts; prompts within task and length).\n")
    if s["calibration"]:
        add("## Full-cache retrieval accuracy by context length\n")
        keys = sorted(s["calibration"], key=lambda k: (k.split("@")[0], int(k.split("@")[1])))
        lengths = sorted({int(k.split("@")[1]) for k in keys})
        tasks = list(dict.fromkeys(k.split("@")[0] for k in keys))
        add("| task | " + " | ".join(f"{n} tokens" for n in lengths) + " |")
        add("| --- |" + " --- |" * len(lengths))
        for t in tasks:
            cells = [s["calibration"].get(f"{t}@{n}") for n in lengths]
            add(f"| {t} | " + " | ".join(f"{pct(c['accuracy'])} ({c['prompts']})" if c else "" for c in cells) + " |")
        add("")
    add("## Summary: method x budget\n")
    add("KL(full || compressed) in nats per token (mean, 95% interval), top-1 agreement with the full cache, "
        "perplexity (full cache in the header), and retrieval accuracy over all tasks and lengths, "
        "question-agnostic and query-aware. Memory kept is the share of the prefix cache's bytes.\n")
    for b in s["budgets"]:
        dv = s["divergence"].get(b, {})
        ag = s["retrieval"].get("agnostic", {}).get(b, {})
        aw = s["retrieval"].get("aware", {}).get(b, {})
        pf = next(iter(dv.values()))["ppl_full"] if dv else float("nan")
        fa = s["retrieval"].get("agnostic", {}).get("1.00", {}).get("full", {}).get("accuracy")
        fw = s["retrieval"].get("aware", {}).get("1.00", {}).get("full", {}).get("accuracy")
        add(f"### Budget {pct(float(b))}\n")
        add(f"| method | kept | KL | top-1 | ppl (full {pf:.2f}) | retrieval, agnostic (full {pct(fa) if fa is not None else '-'})"
            f" | retrieval, aware (full {pct(fw) if fw is not None else '-'}) |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        ms = sorted(s["methods"], key=lambda m: dv[m]["kl"] if m in dv else float("inf"))
        for m in ms:
            d = dv.get(m)
            if d is None and m not in ag and m not in aw:
                add(f"| {m} | refused | | | | | |")
                continue
            kl = f"{d['kl']:.4f} [{d['kl_ci'][0]:.4f}, {d['kl_ci'][1]:.4f}]" if d else "refused"
            t1 = f"{pct(d['top1'])}" if d else ""
            pp = f"{d['ppl']:.2f}" if d else ""
            kp = f"{pct(d['kept_fraction'])}" if d else ""
            def acc(x):
                return f"{pct(x['accuracy'])} [{pct(x['ci'][0])}, {pct(x['ci'][1])}]" if x else "refused"
            add(f"| {m} | {kp} | {kl} | {t1} | {pp} | {acc(ag.get(m))} | {acc(aw.get(m))} |")
        add("")
        rec = s["recommendation"].get(b)
        if rec:
            sep = ("separated from the runner-up" if rec["separated"] else "not separated from the runner-up")
            add(f"Lowest divergence: **{rec['best']}**, {sep} {rec['runner_up']} (KL difference "
                f"[{rec['diff_ci'][0]:.4f}, {rec['diff_ci'][1]:.4f}]); "
                f"{s['pairs'][b]['separated']} of {s['pairs'][b]['pairs']} method pairs separated."
                + (f" Tied with the best: {', '.join(rec['tied_with_best'])}." if rec["tied_with_best"] else ""))
        for setting in SETTINGS:
            best = s["retrieval"].get(setting, {}).get(b, {}).get("_best")
            if best:
                add(f"Best retrieval ({setting}): **{best['best']}**, "
                    + ("separated from" if best["separated"] else "tied with")
                    + f" {best['runner_up']} (difference [{pct(best['diff_ci'][0])}, {pct(best['diff_ci'][1])}])"
                    + (f"; tied with the best: {', '.join(best['tied_with_best'])}." if best["tied_with_best"] else "."))
        add("")
    if s["texts"]:
        add("## Divergence per text\n")
        add("Mean KL per token (nats) on each text; the last columns are Spearman's rho of the methods' "
            "ranking between texts (mean and lowest over text pairs).\n")
        for b in s["budgets"]:
            pt = s["texts"].get(b)
            if not pt:
                continue
            texts = list(pt)
            rh = [v for v in s["rank_correlation"][b].values() if not math.isnan(v)]
            add(f"### Budget {pct(float(b))} (rank correlation between texts: mean {np.mean(rh):.2f}, "
                f"lowest {np.min(rh):.2f})\n" if rh else f"### Budget {pct(float(b))}\n")
            add("| method | " + " | ".join(texts) + " |")
            add("| --- |" + " --- |" * len(texts))
            for m in sorted(pt[texts[0]], key=lambda m: s["divergence"][b][m]["kl"]):
                add(f"| {m} | " + " | ".join(f"{pt[t][m]:.4f}" for t in texts) + " |")
            add("")
    for setting in SETTINGS:
        res = s["retrieval"].get(setting)
        if not res:
            continue
        add(f"## Retrieval per task and length, {setting}\n")
        cells = list(next(iter(res["1.00"].values()))["cells"]) if "1.00" in res else []
        add("Accuracy per task@length; the last column is the share of (layer, kv head) pairs that kept "
            "every token of the asked needle's value (mean over prompts).\n")
        add("| method | budget | " + " | ".join(cells) + " | needle kept |")
        add("| --- | --- |" + " --- |" * len(cells) + " --- |")
        for b in ["1.00"] + s["budgets"]:
            for m, v in res.get(b, {}).items():
                if m.startswith("_"):
                    continue
                add(f"| {m} | {pct(float(b))} | " + " | ".join(pct(v["cells"].get(c, float('nan'))) for c in cells)
                    + f" | {pct(v['needle_kept'])} |")
        add("")
    return "\n".join(L) + "\n"


def plots(out: Path, s: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    budgets = [float(b) for b in s["budgets"]]
    methods = s["methods"]
    cmap = plt.get_cmap("tab20")
    style = {m: (cmap(i % 20), "-o" if i < 10 else "--s") for i, m in enumerate(methods)}

    if s["divergence"]:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        for m in methods:
            xs, ys, lo, hi = [], [], [], []
            for b in s["budgets"]:
                d = s["divergence"].get(b, {}).get(m)
                if d:
                    xs.append(float(b)); ys.append(d["kl"])
                    lo.append(d["kl"] - d["kl_ci"][0]); hi.append(d["kl_ci"][1] - d["kl"])
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], fmt=style[m][1], color=style[m][0], label=m, capsize=3, ms=4)
        ax.set_yscale("log")
        ax.set_xlabel("budget (share of the prefix cache kept)")
        ax.set_ylabel("KL(full || compressed), nats per token")
        ax.set_title("Divergence from the full cache (pooled over texts, 95% bootstrap intervals)")
        ax.set_xticks(budgets)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        fig.savefig(out / "divergence_vs_budget.png", dpi=110)
        plt.close(fig)

    if s["retrieval"]:
        fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
        for ax, setting in zip(axes, SETTINGS):
            res = s["retrieval"].get(setting, {})
            for m in methods:
                xs, ys, lo, hi = [], [], [], []
                for b in s["budgets"]:
                    v = res.get(b, {}).get(m)
                    if v:
                        xs.append(float(b)); ys.append(v["accuracy"])
                        lo.append(v["accuracy"] - v["ci"][0]); hi.append(v["ci"][1] - v["accuracy"])
                if xs:
                    ax.errorbar(xs, ys, yerr=[lo, hi], fmt=style[m][1], color=style[m][0], label=m, capsize=3, ms=4)
            full = res.get("1.00", {}).get("full")
            if full:
                ax.axhline(full["accuracy"], color="k", lw=1, ls=":", label="full cache")
            ax.set_title("Retrieval accuracy, " + ("question-agnostic" if setting == "agnostic" else "query-aware"))
            ax.set_xlabel("budget")
            ax.set_xticks(budgets)
            ax.set_ylim(-0.05, 1.05)
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("accuracy (all tasks and lengths)")
        axes[1].legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / "retrieval_vs_budget.png", dpi=110)
        plt.close(fig)

        res = s["retrieval"].get("aware", {})
        cells = list(next(iter(res.get("1.00", {}).values()), {}).get("cells", {}))
        lengths = sorted({int(c.split("@")[1]) for c in cells})
        if len(lengths) > 1:
            fig, axes = plt.subplots(1, len(s["budgets"]), figsize=(4 * len(s["budgets"]), 4.5), sharey=True)
            axes = np.atleast_1d(axes)
            for ax, b in zip(axes, s["budgets"]):
                for m in ["full"] + methods:
                    v = res.get("1.00" if m == "full" else b, {}).get(m)
                    if not v:
                        continue
                    ys = [np.mean([a for c, a in v["cells"].items() if c.endswith(f"@{n}")]) for n in lengths]
                    fmt, col = ("k:", "k") if m == "full" else (style[m][1], style[m][0])
                    ax.plot(lengths, ys, fmt, color=col, label=m, ms=4)
                ax.set_title(f"query-aware, budget {pct(float(b))}")
                ax.set_xlabel("context length (tokens)")
                ax.set_xticks(lengths)
                ax.set_ylim(-0.05, 1.05)
                ax.grid(True, alpha=0.3)
            axes[0].set_ylabel("accuracy (mean over tasks)")
            axes[-1].legend(fontsize=7, ncol=2)
            fig.tight_layout()
            fig.savefig(out / "retrieval_vs_length.png", dpi=110)
            plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Method pages

BEGIN, END = "<!-- quality: begin (tools/eval/quality.py --update-docs writes this block) -->", "<!-- quality: end -->"


def method_block(s: dict, m: str) -> str:
    L = [BEGIN, "", "### In the quality benchmark", "",
         "From [results.md](results.md#the-quality-benchmark): KL(full ‖ compressed) per token pooled over "
         "four texts, its rank among the methods at that budget (1 = lowest), and retrieval accuracy "
         "(passkey and multi-key, 512 and 1024 tokens); 95% bootstrap intervals.", "",
         "| budget | kept | KL | rank | top-1 | retrieval, question-agnostic | retrieval, query-aware |",
         "| --- | --- | --- | --- | --- | --- | --- |"]
    for b in s["budgets"]:
        dv = s["divergence"].get(b, {})
        d = dv.get(m)
        def acc(setting):
            v = s["retrieval"].get(setting, {}).get(b, {}).get(m)
            return f"{pct(v['accuracy'])} [{pct(v['ci'][0])}, {pct(v['ci'][1])}]" if v else "refused"
        if d is None:
            L.append(f"| {pct(float(b))} | refused | | | | | |")
            continue
        rank = 1 + sum(1 for x in dv.values() if x["kl"] < d["kl"])
        L.append(f"| {pct(float(b))} | {pct(d['kept_fraction'])} | {d['kl']:.4f} [{d['kl_ci'][0]:.4f}, "
                 f"{d['kl_ci'][1]:.4f}] | {rank} of {len(dv)} | {pct(d['top1'])} | {acc('agnostic')} | "
                 f"{acc('aware')} |")
    L += ["", END]
    return "\n".join(L)


SUMMARY_BEGIN = "<!-- quality summary: begin (tools/eval/quality.py --update-docs writes this block) -->"
SUMMARY_END = "<!-- quality summary: end -->"


def summary_block(s: dict, budgets=("0.25", "0.50")) -> str:
    """README's table: every method's KL and retrieval at two budgets, ordered by KL at the last."""
    dv = s["divergence"]
    last = budgets[-1]
    order = sorted(s["methods"], key=lambda m: (dv.get(last, {}).get(m) is None, dv.get(last, {}).get(m, {}).get("kl", 0)))
    pct = lambda b: f"{float(b):.0%}"
    L = [SUMMARY_BEGIN, "",
         "| method | " + " | ".join(f"KL at {pct(b)}" for b in budgets) + " | "
         + " | ".join(f"retrieval at {pct(b)}, aware / agnostic" for b in budgets) + " |",
         "| --- |" + " --- |" * (2 * len(budgets))]
    for m in order:
        cells = []
        for b in budgets:
            d = dv.get(b, {}).get(m)
            cells.append("refused" if d is None or d.get("kl") is None else f"{d['kl']:.3f}")
        for b in budgets:
            r = [s["retrieval"].get(st, {}).get(b, {}).get(m) for st in ("aware", "agnostic")]
            cells.append("refused" if r[0] is None else " / ".join(
                "refused" if x is None else f"{x['accuracy']:.0%}" for x in r))
        L.append(f"| {m} | " + " | ".join(cells) + " |")
    full = s["retrieval"].get("aware", {}).get("1.00", {}).get("full")
    if full:
        L += ["", f"The full cache retrieves {full['accuracy']:.0%} of these prompts."]
    L += ["", SUMMARY_END]
    return "\n".join(L)


def update_docs(docs: Path, s: dict) -> None:
    readme = docs.parent / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        if SUMMARY_BEGIN in text and SUMMARY_END in text:
            a, b = text.index(SUMMARY_BEGIN), text.index(SUMMARY_END) + len(SUMMARY_END)
            readme.write_text(text[:a] + summary_block(s) + text[b:], encoding="utf-8")
            print(f"updated {readme}")
    for m in s["methods"]:
        page = docs / f"{m}.md"
        if not page.is_file():
            continue
        text = page.read_text(encoding="utf-8")
        block = method_block(s, m)
        if BEGIN in text and END in text:
            a, b = text.index(BEGIN), text.index(END) + len(END)
            text = text[:a] + block + text[b:]
        else:
            head = "## On a real model (SmolLM2-135M)"
            if head not in text:
                continue
            start = text.index(head) + len(head)
            nxt = text.find("\n## ", start)
            at = len(text.rstrip("\n")) if nxt < 0 else nxt
            text = text[:at].rstrip("\n") + "\n\n" + block + "\n" + text[at:]
            if nxt < 0:
                text = text.rstrip("\n") + "\n"
        page.write_text(text, encoding="utf-8")
        print(f"updated {page}")


# ---------------------------------------------------------------------------------------------
# Bounds (CI)

def check_bounds(s: dict, path: Path, budget: str = "0.50") -> int:
    bounds = json.loads(path.read_text(encoding="utf-8"))
    dv = s["divergence"].get(budget, {})
    bad = []
    for m, bound in bounds["kl_at_50"].items():
        if m not in dv:
            bad.append(f"{m}: no divergence at {budget}")
        elif dv[m]["kl"] > bound:
            bad.append(f"{m}: KL {dv[m]['kl']:.5f} > recorded bound {bound:.5f}")
    for m in dv:
        if m not in bounds["kl_at_50"]:
            bad.append(f"{m}: no recorded bound in {path}")
    for line in bad:
        print(f"quality: {line}", file=sys.stderr)
    print(f"quality: {len(bounds['kl_at_50']) - len(bad)} of {len(bounds['kl_at_50'])} methods within their "
          f"recorded KL bounds at 50%")
    return 1 if bad else 0


def write_bounds(s: dict, path: Path, budget: str = "0.50") -> None:
    dv = s["divergence"][budget]
    # 25% above the recorded value plus 0.002 nats: the run is deterministic, so only a change of
    # the methods (or the model code) moves it
    bounds = {m: round(1.25 * d["kl"] + 0.002, 5) for m, d in dv.items()}
    path.write_text(json.dumps({"budget": budget, "rule": "1.25 * recorded KL + 0.002",
                                "recorded": {m: round(d["kl"], 6) for m, d in dv.items()},
                                "kl_at_50": bounds}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kvc", default=DEFAULT_KVC, help=f"kvc tool command (default {DEFAULT_KVC})")
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--quick", action="store_true",
                    help="CI size: genesis only, 2 windows of 512 tokens, budgets 0.25 and 0.50, passkey at 512")
    ap.add_argument("--methods", default=None, help="comma-separated (default: every method of `kvc methods`)")
    ap.add_argument("--budgets", default="0.1,0.25,0.5,0.75")
    ap.add_argument("--texts", default=",".join(TEXTS))
    ap.add_argument("--windows", type=int, default=4, help="windows per text (default 4)")
    ap.add_argument("--prefix", type=int, default=1024, help="compressed prefix P of each window (default 1024)")
    ap.add_argument("--future", type=int, default=128, help="scored tokens F after it (default 128)")
    ap.add_argument("--tasks", default="passkey,multikey",
                    help="tasks run with every method (default passkey,multikey: the model's full-cache "
                         "accuracy on variable tracking is too low to compare methods by; see calibration.csv)")
    ap.add_argument("--calib-tasks", default=",".join(TASKS), help="tasks of the full-cache accuracy table")
    ap.add_argument("--lengths", default="512,1024", help="retrieval context lengths run with every method")
    ap.add_argument("--calib-lengths", default="512,1024,2048", help="lengths of the full-cache accuracy table")
    ap.add_argument("--samples", type=int, default=10, help="prompts per task and length (default 10)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: divergence, retrieval, calibration")
    ap.add_argument("--report-only", action="store_true", help="only the analysis, from --out's CSVs")
    ap.add_argument("--check-bounds", default=None, metavar="JSON", help="exit 1 if a KL at 50%% exceeds its bound")
    ap.add_argument("--write-bounds", default=None, metavar="JSON", help="record this run's KL bounds at 50%%")
    ap.add_argument("--param", action="append", default=[], metavar="METHOD.NAME=VALUE",
                    help="a method parameter, passed to kvc compress (repeat for more)")
    ap.add_argument("--label", default="", help="appended to the method names in the results, e.g. [paper]")
    ap.add_argument("--include", action="append", default=[], metavar="DIR",
                    help="also analyse the CSVs of another run of the same prompts (repeat for more)")
    ap.add_argument("--update-docs", default=None, metavar="DOCS",
                    help="rewrite the quality block of every method page in DOCS (e.g. docs)")
    ap.add_argument("--gguf", default=None)
    args = ap.parse_args()
    PARAMS[:] = args.param
    global LABEL
    LABEL = args.label
    if args.quick:
        args.texts, args.windows, args.prefix, args.future = "genesis", 2, 512, 64
        args.budgets, args.tasks, args.lengths, args.samples = "0.25,0.5", "passkey", "512", 2
        args.calib_lengths = ""
    args.calib_tasks = [t for t in args.calib_tasks.split(",") if t]
    args.texts = [t for t in args.texts.split(",") if t]
    for t in args.texts:
        if t not in TEXTS:
            raise SystemExit(f"--texts: unknown text {t!r}; expected some of {', '.join(TEXTS)}")
    args.tasks = [t for t in args.tasks.split(",") if t]
    for t in args.tasks + args.calib_tasks:
        if t not in TASKS:
            raise SystemExit(f"--tasks: unknown task {t!r}; expected some of {', '.join(TASKS)}")
    args.lengths = [int(x) for x in args.lengths.split(",") if x]
    args.calib_lengths = [int(x) for x in args.calib_lengths.split(",") if x]
    skip = {x for x in args.skip.split(",") if x}
    budgets = [float(x) for x in args.budgets.split(",") if x]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    meta_path = out / "meta.json"
    if not args.report_only:
        from tqdm import tqdm
        kvc = ppl.resolve_kvc(args.kvc)
        methods = ([m for m in args.methods.split(",") if m] if args.methods else
                   [l.strip() for l in ppl.run_tool(kvc + ["methods", "--names"]).splitlines() if l.strip()])
        model = smollm.Model.load(args.gguf)
        hay = Haystack(model)
        per_run = len(methods) * len(budgets)
        steps = ((0 if "divergence" in skip else len(args.texts) * args.windows * (1 + per_run))
                 + (0 if "calibration" in skip else len(args.calib_tasks) * len(args.calib_lengths) * args.samples)
                 + (0 if "retrieval" in skip else len(args.tasks) * len(args.lengths) * args.samples * 2 * (1 + per_run)))
        work = Path(tempfile.mkdtemp(prefix="kvc-quality-"))
        try:
            with tqdm(total=steps, desc="quality", unit="step", smoothing=0.05) as bar:
                if "calibration" not in skip and args.calib_lengths:
                    write_csv(out / "calibration.csv", calibration(model, hay, args, bar))
                if "divergence" not in skip:
                    write_csv(out / "divergence.csv", divergence(model, kvc, args, methods, budgets, work, bar))
                if "retrieval" not in skip:
                    rows, heads = retrieval(model, kvc, hay, args, methods, budgets, work, bar)
                    write_csv(out / "retrieval.csv", rows)
                    write_csv(out / "needle_heads.csv", heads)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        import platform
        meta = {"command": "quality.py " + " ".join(sys.argv[1:]), "wall_s": round(time.time() - t0, 1),
                "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                "windows": args.windows, "prefix": args.prefix, "future": args.future, "tasks": args.tasks,
                "lengths": args.lengths, "samples": args.samples, "seed": args.seed, "methods": methods,
                "budgets": budgets}
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    s = analyse(out, args.seed, [Path(d) for d in args.include])
    (out / "summary.json").write_text(json.dumps(s, indent=1) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report(out, s, meta), encoding="utf-8")
    plots(out, s)
    print((out / "report.md").read_text(encoding="utf-8"))
    print(f"wrote {out}; total time {time.time() - t0:.1f}s")
    if args.update_docs:
        update_docs(Path(args.update_docs), s)
    if args.write_bounds:
        write_bounds(s, Path(args.write_bounds))
    if args.check_bounds:
        return check_bounds(s, Path(args.check_bounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
