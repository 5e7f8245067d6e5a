"""What several builders share: the Jinja environment and a light view of a topic for listings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from schemas.models import Book, Kind

KIND_LABEL = {Kind.topic: "", Kind.case_study: "case study", Kind.cheat_sheet: "cheat sheet"}


def jinja(templates: Path, fmt: str) -> Environment:
    """Autoescaping environment over templates/<fmt>/ and templates/shared/."""
    return Environment(
        loader=FileSystemLoader([str(templates / fmt), str(templates / "shared")]),
        autoescape=select_autoescape(["html", "xhtml", "xml"], default_for_string=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Ref:
    """A topic as a listing shows it; `written=False` for topics that are planned but absent."""
    id: str
    title: str
    written: bool
    summary: str = ""
    difficulty: str = ""
    kind: str = "topic"
    kind_label: str = ""


def ref(book: Book, topic_id: str) -> Ref:
    t = book.topic(topic_id)
    if t is None:
        return Ref(topic_id, book.title_of(topic_id), False)
    return Ref(t.id, t.title, True, t.summary, t.difficulty.value, t.kind.value, KIND_LABEL[t.kind])
