#!/usr/bin/env python3
"""Plots for docs/results.md from the CSV files the evaluation writes.

  python3 tools/eval/plots.py --eval eval.csv [--ppl ppl.csv] [--fastgen fastgen_map.csv] --out docs/results

Also writes tables.md there: the markdown tables docs/results.md quotes.

eval.csv     (kvc eval --csv)         method,budget,layer,prefix,future,kept_fraction,output_error,recovery
ppl.csv      (tools/eval/ppl.py)      method,budget,prefix,future,ppl_full,ppl,delta_ppl,kept_fraction
fastgen.csv  (kvc fastgen-map --csv)  layer,head,policy,recovery,kept,tokens
"""
import argparse
import csv
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# One style per method, stable across plots.
STYLES = {
    "streaming_llm": ("#7f7f7f", "s"), "h2o": ("#1f77b4", "o"), "snapkv": ("#ff7f0e", "^"),
    "tova": ("#2ca02c", "v"), "key_norm": ("#bcbd22", "<"), "random": ("#c7c7c7", "x"),
    "adakv": ("#d62728", "D"), "pyramidkv": ("#9467bd", ">"), "fastgen": ("#8c564b", "p"),
    "ems": ("#e377c2", "*"), "intelllm": ("#17becf", "h"), "lorc": ("#000000", "P"),
}


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def style(method):
    return STYLES.get(method, ("#333333", "."))


def by_style_order(methods):
    """The methods in STYLES order (unknown ones last)."""
    return sorted(methods, key=lambda m: list(STYLES).index(m) if m in STYLES else len(STYLES))


def save(fig, out, name):
    fig.tight_layout()
    path = os.path.join(out, name)
    fig.savefig(path, dpi=110)
    print("wrote", path)


def plot_eval(rows, out):
    # mean over layers (and prefixes) per method and budget
    acc = defaultdict(list)
    for r in rows:
        acc[(r["method"], float(r["budget"]))].append((float(r["output_error"]), float(r["recovery"])))
    methods = by_style_order({m for m, _ in acc})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for m in methods:
        budgets = sorted(b for mm, b in acc if mm == m)
        err = [np.mean([e for e, _ in acc[(m, b)]]) for b in budgets]
        rec = [np.mean([r for _, r in acc[(m, b)]]) for b in budgets]
        color, marker = style(m)
        axes[0].plot([100 * b for b in budgets], err, color=color, marker=marker, label=m)
        if m != "lorc":  # LoRC keeps every token: recovery is 1 by construction
            axes[1].plot([100 * b for b in budgets], rec, color=color, marker=marker, label=m)
    axes[0].set(xlabel="budget (% of the prefix cache kept)", ylabel="attention-output relative error",
                title="Output error on the next real queries", yscale="log")
    axes[1].set(xlabel="budget (% of the prefix cache kept)", ylabel="attention recovery",
                title="Full attention mass on kept tokens")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    save(fig, out, "error_vs_budget.png")

    # per layer at the smallest budget: where do methods fail?
    b0 = min(b for _, b in acc)
    fig, ax = plt.subplots(figsize=(11, 4))
    for m in methods:
        pts = sorted((int(r["layer"]), float(r["output_error"])) for r in rows
                     if r["method"] == m and float(r["budget"]) == b0)
        by_layer = defaultdict(list)
        for layer, e in pts:
            by_layer[layer].append(e)
        layers = sorted(by_layer)
        color, marker = style(m)
        ax.plot(layers, [np.mean(by_layer[layer]) for layer in layers], color=color, marker=marker, label=m,
                markersize=4)
    ax.set(xlabel="layer", ylabel="attention-output relative error", yscale="log",
           title=f"Output error per layer at {100 * b0:.0f}% budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=4)
    save(fig, out, "error_per_layer.png")


def plot_ppl(rows, out):
    acc = defaultdict(list)
    for r in rows:
        acc[(r["method"], float(r["budget"]))].append(float(r["delta_ppl"]))
    methods = by_style_order({m for m, _ in acc})
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for m in methods:
        budgets = sorted(b for mm, b in acc if mm == m)
        color, marker = style(m)
        ax.plot([100 * b for b in budgets], [np.mean(acc[(m, b)]) for b in budgets], color=color, marker=marker,
                label=m)
    ax.axhline(0.0, color="k", linestyle="--", linewidth=1)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set(xlabel="budget (% of the prefix cache kept)",
           ylabel="perplexity increase over the full cache",
           title=f"End to end: SmolLM2-135M, mean over {len({r['prefix'] for r in rows})} prefixes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save(fig, out, "ppl_vs_budget.png")


def plot_fastgen(rows, out):
    order = ["special", "special+punct", "special+punct+frequent", "special+punct+frequent+local", "full"]
    layers = sorted({int(r["layer"]) for r in rows})
    heads = sorted({int(r["head"]) for r in rows})
    grid = np.full((len(heads), len(layers)), np.nan)
    kept = np.zeros_like(grid)
    for r in rows:
        i, j = heads.index(int(r["head"])), layers.index(int(r["layer"]))
        grid[i, j] = order.index(r["policy"]) if r["policy"] in order else np.nan
        kept[i, j] = 100.0 * float(r["kept"]) / float(r["tokens"])
    fig, ax = plt.subplots(figsize=(max(6, 0.38 * len(layers) + 2), 0.55 * len(heads) + 1.8))
    cmap = matplotlib.colormaps["viridis"].resampled(len(order))
    im = ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(order) - 0.5, aspect="auto")
    for i in range(len(heads)):
        for j in range(len(layers)):
            ax.text(j, i, f"{kept[i, j]:.0f}", ha="center", va="center", fontsize=6,
                    color="white" if grid[i, j] < 2 else "black")
    ax.set_xticks(range(len(layers)), [str(layer) for layer in layers], fontsize=7)
    ax.set_yticks(range(len(heads)), [f"kv head {h}" for h in heads], fontsize=8)
    ax.set_xlabel("layer")
    cbar = fig.colorbar(im, ticks=range(len(order)))
    cbar.ax.set_yticklabels(["S", "S+P", "S+P+F", "S+P+F+L", "full"], fontsize=8)
    ax.set_title("FastGen's profiled policy per kv head (T = 0.95; numbers: % of the prefix kept)", fontsize=9)
    save(fig, out, "fastgen_policy_map.png")


def ordered(rows):
    names = []
    for r in rows:
        if r["method"] not in names:
            names.append(r["method"])
    return names


def markdown_tables(eval_rows, ppl_rows):
    """Mean over layers per method and budget, one table per prefix; perplexity per prefix."""
    lines = []
    budgets = sorted({r["budget"] for r in eval_rows}, key=float)
    for P in sorted({r["prefix"] for r in eval_rows}, key=int):
        acc = defaultdict(list)
        for r in eval_rows:
            if r["prefix"] == P:
                acc[(r["method"], r["budget"])].append(
                    (float(r["output_error"]), float(r["recovery"]), float(r["kept_fraction"])))
        pct = [f"{100 * float(b):.0f}%" for b in budgets]
        lines += [f"Prefix P = {P} tokens, judged on the next {eval_rows[0]['future']} queries, mean over "
                  f"{len({r['layer'] for r in eval_rows})} layers:", "",
                  "| method | " + " | ".join(f"error {b}" for b in pct) + " | " +
                  " | ".join(f"recovery {b}" for b in pct) + " |",
                  "|---" * (1 + 2 * len(budgets)) + "|"]
        for m in ordered(eval_rows):
            cells = []
            for i in (0, 1):
                for b in budgets:
                    v = acc.get((m, b))
                    if not v:
                        cells.append("—")
                        continue
                    x = float(np.mean([t[i] for t in v]))
                    kept = float(np.mean([t[2] for t in v]))
                    cell = f"{x:.3f}"
                    if i == 0 and abs(kept - float(b)) > 0.005:
                        cell += f" ({100 * kept:.0f}% kept)"
                    cells.append(cell)
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    if ppl_rows:
        budgets = sorted({r["budget"] for r in ppl_rows}, key=float)
        prefixes = sorted({r["prefix"] for r in ppl_rows}, key=int)
        full = {r["prefix"]: float(r["ppl_full"]) for r in ppl_rows}
        lines += [f"Perplexity increase over the full cache on the next {ppl_rows[0]['future']} tokens, mean over "
                  f"{len(prefixes)} prefixes (P = {', '.join(prefixes)}; full-cache perplexity "
                  + ", ".join(f"{full[P]:.2f}" for P in prefixes) + "), with the smallest and largest "
                  "increase over the prefixes:", "",
                  "| method | " + " | ".join(f"{100 * float(b):.0f}%" for b in budgets) + " |",
                  "|---" * (1 + len(budgets)) + "|"]
        for m in ordered(ppl_rows):
            cells = []
            for b in budgets:
                d = [float(r["delta_ppl"]) for r in ppl_rows if r["method"] == m and r["budget"] == b]
                cells.append("—" if not d else f"{np.mean(d):+.3f} ({min(d):+.2f} … {max(d):+.2f})")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eval", help="kvc eval --csv output")
    p.add_argument("--ppl", help="tools/eval/ppl.py --csv output")
    p.add_argument("--fastgen", help="kvc fastgen-map --csv output")
    p.add_argument("--out", required=True, help="folder for the PNG files")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.eval:
        plot_eval(read(a.eval), a.out)
        path = os.path.join(a.out, "tables.md")
        with open(path, "w") as f:
            f.write(markdown_tables(read(a.eval), read(a.ppl) if a.ppl else []))
        print("wrote", path)
    if a.ppl:
        plot_ppl(read(a.ppl), a.out)
    if a.fastgen:
        plot_fastgen(read(a.fastgen), a.out)


if __name__ == "__main__":
    main()
