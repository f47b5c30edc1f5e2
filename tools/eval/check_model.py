#!/usr/bin/env python3
"""Sanity checks for the numpy SmolLM2 model in smollm.py.

Prints
  * the perplexity of the first N tokens of a text (default: Genesis, KJV),
    with <|endoftext|> prepended;
  * greedy continuations of a plain prompt and of a chat-formatted prompt;
  * a consistency test: logits of ``forward`` on the last tokens must equal
    those of ``prefill`` + ``continue_with_cache`` with an all-True mask;
  * a mask test: masking prefix tokens out must equal removing their K/V.

Exits with status 1 if a test fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import smollm  # noqa: E402

PLAIN_PROMPT = "The capital of France is"
CHAT_PROMPT = ("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
               "<|im_start|>assistant\n")


def perplexity(model: smollm.Model, ids: list[int]) -> float:
    h = model.hidden(ids)
    nll = model.nll(h[:-1], ids[1:])
    return float(np.exp(nll.mean()))


def greedy(model: smollm.Model, prompt: str, n: int) -> str:
    ids = model.tokenizer.encode(prompt)
    stop = {model.tokenizer.eos_id, model.bos_id}
    new = model.generate(ids, n, stop_ids=stop)
    return model.tokenizer.decode(new)


def cache_test(model: smollm.Model, ids: list[int], prefix: int,
               tol: float) -> dict:
    full = model.forward(ids)
    caches = model.prefill(ids[:prefix])
    masks = [(k, v, np.ones(k.shape[:2], dtype=bool)) for k, v in caches]
    cont = model.continue_with_cache(ids[prefix:], prefix, masks)
    ref = full[prefix:]
    max_abs = float(np.max(np.abs(cont - ref)))
    scale = float(max(1.0, np.max(np.abs(ref))))
    rel = max_abs / scale
    same_argmax = bool(np.all(cont.argmax(-1) == ref.argmax(-1)))
    return {"tokens": len(ids), "prefix": prefix, "max_abs_diff": max_abs,
            "max_rel_diff": rel, "tolerance_rel": tol,
            "same_argmax": same_argmax, "pass": bool(rel <= tol and same_argmax)}


def mask_test(model: smollm.Model, ids: list[int], prefix: int,
              tol: float) -> dict:
    """A False mask entry must act exactly like removing that token's K/V."""
    caches = model.prefill(ids[:prefix])
    rng = np.random.default_rng(0)
    keep = rng.random(prefix) < 0.5
    keep[0] = True
    masked = [(k, v, np.broadcast_to(keep, k.shape[:2])) for k, v in caches]
    dropped = [(k[:, keep], v[:, keep]) for k, v in caches]
    a = model.continue_with_cache(ids[prefix:], prefix, masked)
    b = model.continue_with_cache(ids[prefix:], prefix, dropped)
    rel = float(np.max(np.abs(a - b))) / float(max(1.0, np.max(np.abs(b))))
    return {"kept": int(keep.sum()), "prefix": prefix, "max_rel_diff": rel,
            "pass": bool(rel <= tol)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default=str(smollm.DEFAULT_TEXT),
                    help="text for the perplexity measurement")
    ap.add_argument("--tokens", type=int, default=2048,
                    help="number of tokens (BOS included) for perplexity")
    ap.add_argument("--gen", type=int, default=40, help="greedy tokens to generate")
    ap.add_argument("--prompt", default=PLAIN_PROMPT, help="plain-text prompt")
    ap.add_argument("--chat", default="What is the capital of France?",
                    help="user message for the chat-template prompt")
    ap.add_argument("--cache-tokens", type=int, default=320,
                    help="sequence length of the cache consistency test")
    ap.add_argument("--cache-prefix", type=int, default=256,
                    help="prefix length of the cache consistency test")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="max |diff| / max(1, max|logit|) allowed in the cache test")
    ap.add_argument("--gguf", default=None, help="GGUF path (default: installed package)")
    ap.add_argument("--json", default=None, metavar="PATH", help="write results as JSON")
    ap.add_argument("--max-ppl", type=float, default=20.0,
                    help="fail when the text's perplexity exceeds this (default 20; the "
                         "wrong RoPE pairing gives about 70)")
    args = ap.parse_args()

    t0 = time.time()
    model = smollm.Model.load(args.gguf, verbose=True)
    cfg = model.cfg
    print(f"model: {smollm.MODEL_DESCRIPTION}")
    print(f"  layers={cfg.n_layers} d_model={cfg.d_model} heads={cfg.n_heads} "
          f"kv_heads={cfg.n_kv_heads} head_dim={cfg.head_dim} d_ff={cfg.d_ff} "
          f"rope_theta={cfg.rope_theta:g} vocab={cfg.vocab_size} "
          f"pre={model.tokenizer.pre!r} bos(<|endoftext|>)={model.bos_id}")
    print(f"  load time {time.time() - t0:.1f}s")
    results: dict = {"model": smollm.MODEL_DESCRIPTION}

    text = smollm.read_text(args.text)
    ids = smollm.encode_document(model, text, args.tokens)
    t0 = time.time()
    ppl = perplexity(model, ids)
    dt = time.time() - t0
    print(f"\nperplexity over {len(ids)} tokens of {Path(args.text).name}: "
          f"{ppl:.3f}   ({dt:.1f}s)")
    results["perplexity"] = {"text": str(args.text), "tokens": len(ids),
                             "ppl": ppl, "seconds": dt}

    chat_prompt = (f"<|im_start|>user\n{args.chat}<|im_end|>\n"
                   "<|im_start|>assistant\n")
    gens = {}
    for name, prompt in (("plain", args.prompt), ("chat", chat_prompt)):
        t0 = time.time()
        out = greedy(model, prompt, args.gen)
        dt = time.time() - t0
        gens[name] = {"prompt": prompt, "continuation": out, "seconds": dt}
        print(f"\ngreedy ({name}, {args.gen} tokens max, {dt:.1f}s):")
        print(f"  prompt:       {prompt!r}")
        print(f"  continuation: {out!r}")
    results["generation"] = gens

    ids = smollm.encode_document(model, text, args.cache_tokens)
    ct = cache_test(model, ids, args.cache_prefix, args.tol)
    results["cache_test"] = ct
    status = "PASS" if ct["pass"] else "FAIL"
    print(f"\ncache test (forward vs prefill({ct['prefix']}) + continue_with_cache, "
          f"{ct['tokens']} tokens): max |diff| = {ct['max_abs_diff']:.3g}, "
          f"relative {ct['max_rel_diff']:.3g} (tol {args.tol:g}), "
          f"same argmax: {ct['same_argmax']}  -> {status}")

    mt = mask_test(model, ids, args.cache_prefix, args.tol)
    results["mask_test"] = mt
    print(f"mask test (False mask == dropped K/V, {mt['kept']}/{mt['prefix']} kept): "
          f"relative diff {mt['max_rel_diff']:.3g}  -> {'PASS' if mt['pass'] else 'FAIL'}")
    ppl_ok = ppl <= args.max_ppl
    print(f"perplexity {ppl:.3f} <= {args.max_ppl:g}  -> {'PASS' if ppl_ok else 'FAIL'}")
    ok = ct["pass"] and mt["pass"] and ppl_ok

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n",
                                   encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
