#!/usr/bin/env python3
"""Writes alice.txt, workshop.txt and as_you_like_it.txt (tools/eval/data/SOURCE.md).

The three texts are the Canterbury corpus files alice29.txt, lcet10.txt and asyoulik.txt, as
shipped in the source distribution of the PyPI package Brotli 1.1.0 (tests/testdata/). The
script downloads that archive with pip (or reads it from --sdist), takes each text from its
first line of running text, normalises the layout (below) and cuts it at a paragraph boundary
after --chars characters. Standard library only.

  python3 tools/eval/data/extract_canterbury.py [--sdist Brotli-1.1.0.tar.gz] [--chars 36000]
"""
from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEMBER = "Brotli-1.1.0/tests/testdata/{}"


def paragraphs(text: str) -> str:
    """Hard-wrapped prose: lines of a paragraph joined by single spaces, one blank line
    between paragraphs, runs of spaces collapsed."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [l.strip() for l in block.splitlines() if l.strip()]
        lines = [l for l in lines if not re.fullmatch(r"[+*\s]+", l)]  # banner rules
        if lines:
            out.append(re.sub(r"\s+", " ", " ".join(lines)))
    return "\n\n".join(out) + "\n"


def play(text: str) -> str:
    """A play: one line per verse line, tabs (between a speaker and the speech, and as the
    indent of continued speech) replaced by one space, leading blanks stripped, at most one
    blank line in a row."""
    lines = [re.sub(r"[ \t]+", " ", l).strip() for l in text.splitlines()]
    out, blank = [], False
    for l in lines:
        if not l:
            if not blank and out:
                out.append("")
            blank = True
            continue
        out.append(l)
        blank = False
    return "\n".join(out).strip() + "\n"


def cut(text: str, chars: int) -> str:
    """The text up to the last paragraph break (blank line) at or before `chars`."""
    if len(text) <= chars:
        return text
    end = text.rfind("\n\n", 0, chars)
    return text[:end].rstrip() + "\n"


TEXTS = {
    # out name: (member, first line of running text, layout)
    "alice.txt": ("alice29.txt", "CHAPTER I", paragraphs),
    "workshop.txt": ("lcet10.txt", "INTRODUCTION", paragraphs),
    "as_you_like_it.txt": ("asyoulik.txt", "ACT I", play),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sdist", help="Brotli-1.1.0.tar.gz (default: downloaded from PyPI with pip)")
    ap.add_argument("--chars", type=int, default=36000, help="characters kept per text (default 36000)")
    ap.add_argument("--out", default=str(HERE), help="output folder (default: this folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist
        if not sdist:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                            "brotli==1.1.0", "-d", tmp], check=True)
            sdist = str(Path(tmp) / "Brotli-1.1.0.tar.gz")
        with tarfile.open(sdist) as tar:
            for name, (member, start, layout) in TEXTS.items():
                raw = tar.extractfile(MEMBER.format(member)).read().decode("ascii").replace("\r\n", "\n")
                at = re.search(rf"^\s*{re.escape(start)}\s*$", raw, re.M)
                if at is None:
                    raise SystemExit(f"{member}: no line {start!r}")
                text = cut(layout(raw[at.start():]), args.chars)
                path = Path(args.out) / name
                path.write_text(text, encoding="ascii")
                digest = hashlib.sha256(text.encode("ascii")).hexdigest()
                print(f"{path}: {len(text)} bytes, {len(text.split())} words, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
