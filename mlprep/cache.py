"""Content-addressed build cache.

Every output is keyed by a hash of what it is made from: source text, templates, the tool's own code and
the build options. A format whose key is unchanged is skipped without loading anything; inside a format,
a page or PDF whose key is unchanged is copied from the last good output instead of being rendered.
Keys live in `<out>/.cache/`, so `mlprep clean` (or `--force`) starts from nothing.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGE_DIRS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "schemas")


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def tree_digest(*folders: Path, suffixes: tuple[str, ...] = ()) -> str:
    """Hash of every file's relative path and bytes under the folders (in a fixed order)."""
    h = hashlib.sha256()
    for folder in folders:
        if not folder.exists():
            continue
        for p in sorted(folder.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and (not suffixes or p.suffix in suffixes):
                h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


@lru_cache(maxsize=None)
def tool_digest() -> str:
    """The tool's version: a change to any of its code invalidates every cached output."""
    from mlprep import __version__

    return digest(__version__, *(tree_digest(d, suffixes=(".py",)) for d in PACKAGE_DIRS))


class Keys:
    """A JSON map of name -> key under <out>/.cache/, written only after the work it describes succeeded."""

    def __init__(self, out: Path, name: str):
        self.path = out / ".cache" / f"{name}.json"
        try:
            self.old: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.old = {}
        self.new: dict[str, str] = {}

    def fresh(self, name: str, key: str) -> bool:
        self.new[name] = key
        return self.old.get(name) == key

    def save(self, merge: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {**self.old, **self.new} if merge else self.new
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)

    def forget(self) -> None:
        self.old = {}
