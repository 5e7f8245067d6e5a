"""The site's search index, prebuilt in MiniSearch's own serialised form (its `toJSON`, version 2), so the
browser only deserialises it: no indexing at page load, and it works from file:// as a plain script.

Documents are topics, their headings and every interview question, so a question is a result of its
own that links to its anchor. Tokenising and term processing follow MiniSearch's defaults exactly
(split on Unicode separators and punctuation, lower-case), so queries typed in the browser meet the same
terms; tests/test_site.py checks the prebuilt index against one MiniSearch builds itself in Chromium.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

from mlprep.markdown import parse

FIELDS = ("title", "text")  # fieldIds 0 and 1; the browser boosts title
STORED = ("title", "url", "kind", "where", "snippet")


@lru_cache(maxsize=1)
def _splitter() -> re.Pattern:
    """MiniSearch's default tokenizer, /[\\n\\r\\p{Z}\\p{P}]+/u, as a Python pattern."""
    chars = {"\n", "\r"} | {chr(c) for c in range(sys.maxunicode + 1)
                            if unicodedata.category(chr(c))[0] in "ZP"}
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]+")


def tokenize(text: str) -> list[str]:
    return _splitter().split(text)


def searchable(text: str) -> str:
    """Markdown as searchable, readable plain text: math kept as its TeX ($…$), code kept but separated
    by spaces so words never run together, markup dropped."""
    doc = parse(text)
    parts: list[str] = []
    for tok in doc.tokens:
        if tok.type == "inline":
            for child in tok.children or []:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("math_inline", "math_inline_double"):
                    parts.append(f"${child.content}$")
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
            parts.append(" ")
        elif tok.type == "math_block":
            parts.append(f" $${tok.content.strip()}$$ ")
        elif tok.type in ("fence", "code_block"):
            parts.append(" " + tok.content + " ")
    return " ".join(" ".join(parts).split())


def snippet(text: str, words: int = 40) -> str:
    out = text.split()
    return " ".join(out[:words]) + (" …" if len(out) > words else "")


def build_index(docs: list[dict]) -> dict:
    """MiniSearch's serialised index for `docs` (each: id, title, text and the stored fields)."""
    index: dict[str, dict[int, dict[int, int]]] = {}
    field_length: dict[str, list[int]] = {}
    sums = [0, 0]
    for short, doc in enumerate(docs):
        lengths = []
        for fid, field in enumerate(FIELDS):
            tokens = tokenize(doc.get(field) or "")
            lengths.append(len(set(tokens)))  # MiniSearch counts distinct tokens per field
            for token in tokens:
                term = token.lower()
                if term:
                    entry = index.setdefault(term, {}).setdefault(fid, {})
                    entry[short] = entry.get(short, 0) + 1
            sums[fid] += lengths[-1]
        field_length[str(short)] = lengths
    n = len(docs)
    return {
        "documentCount": n,
        "nextId": n,
        "documentIds": {str(i): d["id"] for i, d in enumerate(docs)},
        "fieldIds": {f: i for i, f in enumerate(FIELDS)},
        "fieldLength": field_length,
        "averageFieldLength": [s / n if n else 0 for s in sums],
        "storedFields": {str(i): {k: d.get(k, "") for k in STORED} for i, d in enumerate(docs)},
        "dirtCount": 0,
        "index": [[term, {str(f): {str(s): c for s, c in docs_.items()} for f, docs_ in fields.items()}]
                  for term, fields in index.items()],
        "serializationVersion": 2,
    }
