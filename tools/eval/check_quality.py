#!/usr/bin/env python3
"""Checks of tools/eval/quality.py's statistics and prompts, against hand-computed values.

  python3 tools/eval/check_quality.py [--no-model]

Without --no-model it also loads SmolLM2 (about 5 s with a warm weight cache) and checks every
retrieval task's prompts: the length asked for, the needle's value tokens where the prompt says
they are, the answer equal to them. Exit status 1 on any failure.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as q  # noqa: E402

failures: list[str] = []


def check(cond: bool, what: str) -> None:
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def statistics() -> None:
    check(q.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0, "spearman: same order is 1")
    check(q.spearman([1, 2, 3], [3, 2, 1]) == -1.0, "spearman: reversed order is -1")
    # ties share their mean rank: ranks (0, 1.5, 1.5, 3) and (0, 2, 1, 3), rho = 4.5 / sqrt(4.5 * 5)
    check(abs(q.spearman([1, 2, 2, 3], [1, 3, 2, 4]) - 4.5 / math.sqrt(22.5)) < 1e-12, "spearman: ties")
    check(math.isnan(q.spearman([1, 1, 1], [1, 2, 3])), "spearman: a constant series has no rank correlation")

    rng = np.random.default_rng(0)
    # a constant per-token rate in every cluster: every resample of the ratio of sums is that rate,
    # and the pooled value is the mean of the groups' rates
    w1, w2 = np.array([3.0, 5.0, 8.0]), np.array([2.0, 7.0])
    g1 = (np.array([0.5 * w1, 2.0 * w1]), w1)
    g2 = (np.array([1.5 * w2, 1.0 * w2]), w2)
    b = q.bootstrap_means([g1, g2], rng, n=200)
    check(b.shape == (200, 2), "bootstrap: one column per series")
    check(np.allclose(b[:, 0], 1.0) and np.allclose(b[:, 1], 1.5), "bootstrap: ratio of sums, mean over groups")
    # a varying cluster gives an interval that contains the point and has width
    g = (np.array([[0.0, 10.0, 2.0, 8.0]]), np.ones(4))
    lo, hi = q.interval(q.bootstrap_means([g], rng, n=2000)[:, 0])
    check(lo < 5.0 < hi and hi - lo > 1.0, f"bootstrap: interval [{lo:.2f}, {hi:.2f}] around the mean 5")

    check(q.fit([[1, 2, 3], [4, 5]], 4) == [[1, 2, 3], [4]], "fit: trims the last sentence to the length")
    check(q.fit([[1, 2], [3, 4]], 9) == [[1, 2], [3, 4]], "fit: a short haystack stays whole")
    ids, where = q.insert([[1, 2], [3, 4], [5, 6]], [(0.5, [9, 9], 7), (1.0, [8], 3)])
    check(ids == [1, 2, 9, 9, 3, 4, 5, 6, 8] and where == {7: 2, 3: 8},
          "insert: needles at the sentence boundaries nearest their depths")


def analysis() -> None:
    # two methods over two texts of three windows: A's KL is 0.1 per token and B's 0.2, with noise
    # that cannot close the gap; C equals A with a little noise, so A and C tie
    rng = np.random.default_rng(1)
    rows = []
    for t in ("genesis", "alice"):
        for w in range(3):
            for m, kl in (("A", 0.1), ("B", 0.2), ("C", 0.1)):
                tokens = 100
                noise = 0.0 if m == "A" else float(rng.uniform(-0.01, 0.01))
                rows.append({"text": t, "window": w, "method": m, "budget": "0.50", "prefix": 512,
                             "tokens": tokens, "refused": 0, "kept_fraction": 0.5,
                             "kl_sum": (kl + noise) * tokens, "top1_sum": 90, "nll_sum": 200.0,
                             "nll_full_sum": 190.0})
    with tempfile.TemporaryDirectory() as d:
        q.write_csv(Path(d) / "divergence.csv", rows)
        s = q.analyse(Path(d), seed=0)
    dv = s["divergence"]["0.50"]
    check(abs(dv["A"]["kl"] - 0.1) < 1e-12 and abs(dv["B"]["kl"] - 0.2) < 0.011, "analyse: pooled KL per method")
    check(abs(dv["A"]["top1"] - 0.9) < 1e-12, "analyse: top-1 agreement is top1_sum / tokens")
    check(abs(dv["A"]["ppl"] - math.exp(2.0)) < 1e-9, "analyse: perplexity from the token NLL")
    rec = s["recommendation"]["0.50"]
    check(rec["best"] in ("A", "C") and "B" not in rec["tied_with_best"], "analyse: B is beaten")
    check(["A", "B"] in s["pairs"]["0.50"]["beats"] and ["C", "B"] in s["pairs"]["0.50"]["beats"],
          "analyse: A and C beat B")
    check(s["pairs"]["0.50"]["pairs"] == 3, "analyse: three pairs of three methods")
    check(abs(s["rank_correlation"]["0.50"]["genesis~alice"]) <= 1.0, "analyse: rank correlation between texts")


def prompts() -> None:
    import smollm
    model = smollm.Model.load()
    hay = q.Haystack(model)
    for task in q.TASKS:
        for length in (512, 1024):
            for i in range(3):
                p = q.make_prompt(model, hay, task, length, i, seed=7)
                ids = p["ids"]
                ok = (len(ids) == length and [ids[j] for j in p["value_pos"]] == p["answer"]
                      and all(j < p["context"] for j in p["value_pos"]) and ids[0] == model.bos_id
                      and model.tokenizer.decode(p["answer"]).isdigit())
                check(ok, f"prompt {task} {length} #{i}: {len(ids)} tokens, answer "
                          f"{model.tokenizer.decode(p['answer'])!r} at {p['value_pos'][:1]} in the context")
    a = q.make_prompt(model, hay, "passkey", 512, 0, seed=7)
    b = q.make_prompt(model, hay, "passkey", 512, 0, seed=7)
    check(a["ids"] == b["ids"], "prompts: the same seed gives the same prompt")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-model", action="store_true", help="skip the checks that load the model")
    args = ap.parse_args()
    statistics()
    analysis()
    if not args.no_model:
        prompts()
    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
