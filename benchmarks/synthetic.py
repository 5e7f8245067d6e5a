"""Synthetic content with the real book's shape, at N times its topic count.

Each written topic is copied N times (ids `<id>` for the first copy, `<id>_xK` for the others); links
and prerequisites between written topics point at the same copy, so every copy is a self-consistent
book-sized web of links. Bodies, questions, code and math are the real ones, so the mix of work per
topic is what the real book costs. The result passes `mlprep validate`.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

LINK = re.compile(r"topic:([a-z0-9_]+)")


def copy_id(tid: str, k: int) -> str:
    return tid if k == 0 else f"{tid}_x{k}"


def generate(content: Path, dest: Path, scale: int) -> Path:
    """Write a book `scale` times the size of `content` into `dest`; return `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy(content / "book.yaml", dest / "book.yaml")
    written = {p.stem for p in content.glob("*/*.md")}
    for folder in sorted(p for p in content.iterdir() if p.is_dir()):
        (dest / folder.name).mkdir()
        section = yaml.safe_load((folder / "section.yaml").read_text(encoding="utf-8"))
        order = []
        for tid in section["order"]:
            order += [copy_id(tid, k) for k in range(scale)] if tid in written else [tid]
        section["order"] = order
        (dest / folder.name / "section.yaml").write_text(yaml.safe_dump(section, sort_keys=False, allow_unicode=True),
                                                          encoding="utf-8")
        for md in sorted(folder.glob("*.md")):
            text = md.read_text(encoding="utf-8")
            for k in range(scale):
                out = text
                if k:
                    out = LINK.sub(lambda m: f"topic:{copy_id(m.group(1), k) if m.group(1) in written else m.group(1)}", out)
                    out = _rewrite_prerequisites(out, written, k)
                (dest / folder.name / f"{copy_id(md.stem, k)}.md").write_text(out, encoding="utf-8")
    return dest


def _rewrite_prerequisites(text: str, written: set[str], k: int) -> str:
    def fix(m: re.Match) -> str:
        ids = [i.strip() for i in m.group(1).split(",") if i.strip()]
        return "prerequisites: [" + ", ".join(copy_id(i, k) if i in written else i for i in ids) + "]"
    return re.sub(r"^prerequisites: \[(.*?)\]", fix, text, count=1, flags=re.M)
