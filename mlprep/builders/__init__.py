"""Output formats. Each module here is one format with the same small interface:

    NAME: str                       # the format's name on the command line and its folder in build/
    KEEP: tuple[str, ...]           # optional: the format has focused editions (--role/--path), and these
                                    # globs name their files, which a full build leaves alone
    def build(book, out, options)   # write every file of the format into the folder `out`

A new format is a new module and a template folder; nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Optional

from schemas.models import Book, Topic

ORDER = ("site", "anki", "epub", "pdf")  # the order `mlprep build` runs them in


class BuildError(Exception):
    """A build failed for a reason the author must fix (e.g. a cheat sheet over its page budget)."""


@dataclass
class Options:
    role: Optional[str] = None
    path: Optional[str] = None
    paper: str = "a4"
    jobs: int = 1
    quiet: bool = False
    force: bool = False
    templates: Path = Path(__file__).resolve().parent.parent.parent / "templates"
    log: Callable[[str], None] = field(default=lambda msg: None)

    @property
    def focus(self) -> Optional[str]:
        """A file-name suffix for focused outputs: 'role-ai-engineer' or 'path-quick-review'."""
        if self.role:
            return f"role-{self.role}"
        if self.path:
            return f"path-{self.path}"
        return None


def formats() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "build"):
            found[mod.NAME] = mod
    return dict(sorted(found.items(), key=lambda kv: (ORDER.index(kv[0]) if kv[0] in ORDER else 99, kv[0])))


def selected_topics(book: Book, options: Options) -> list[Topic]:
    """The written topics a (possibly focused) build contains, in reading order."""
    topics = book.topics()
    if options.role:
        role = book.role(options.role)
        ids = set(role.critical_ids()) if role else set()
        return [t for t in topics if options.role in t.roles or t.id in ids]
    if options.path:
        path = book.path(options.path)
        ids = {tid for w in path.weeks for tid in w.topic_ids()} if path else set()
        return [t for t in topics if t.id in ids]
    return topics
