"""Write outputs so that a failed build never damages the last good one.

A builder writes into a fresh temporary folder beside the target; only when it returns without error
are the files moved into place (and, for a full build, files it no longer produces removed).
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged(target: Path, *, full: bool = True, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temp folder; on success commit it to `target`, on error delete it and re-raise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent)).resolve()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        commit(tmp, target, full=full, keep=keep)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commit(src: Path, target: Path, *, full: bool, keep: tuple[str, ...]) -> None:
    produced = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    if not target.exists() and full:
        os.replace(src, target)
        src.mkdir()  # so the caller's cleanup has something to remove
        return
    for rel in sorted(produced):
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        new = src / rel
        if dest.exists() and _same(new, dest):
            continue  # unchanged: keep the old file and its mtime
        os.replace(new, dest)
    if full:
        for old in sorted(target.rglob("*"), reverse=True):
            rel = old.relative_to(target)
            if old.is_file() and rel not in produced and not any(fnmatch.fnmatch(rel.name, k) for k in keep):
                old.unlink()
            elif old.is_dir() and not any(old.iterdir()):
                old.rmdir()


def _same(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return a.read_bytes() == b.read_bytes()
