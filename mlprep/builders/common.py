"""What several builders share: the Jinja environment and a light view of a topic for listings."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mlprep.sanitize import css_string
from schemas.models import Book, Kind

KIND_LABEL = {Kind.topic: "", Kind.case_study: "case study", Kind.cheat_sheet: "cheat sheet"}


def jinja(templates: Path, fmt: str) -> Environment:
    """Autoescaping environment over templates/<fmt>/ and templates/shared/; `|css` escapes a value for a
    double-quoted CSS string (stylesheets are not HTML-autoescaped)."""
    env = Environment(
        loader=FileSystemLoader([str(templates / fmt), str(templates / "shared")]),
        autoescape=select_autoescape(["html", "xhtml", "xml"], default_for_string=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["css"] = css_string
    return env


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


def content_time(book: Book) -> int:
    """When the loaded content last changed, for Anki's note times and archive dates.

    SOURCE_DATE_EPOCH wins. Otherwise, if every file the loader read is exactly its committed version
    (git blob ids of the bytes read), the time of the last commit touching content/ — the same on every
    clone; else the newest mtime taken before each file was read, so text edited during a build gets a
    newer time in the next build, never the same one."""
    if env := os.environ.get("SOURCE_DATE_EPOCH"):
        return int(env)
    files = book.files
    newest = max((mtime for mtime, _ in files.values()), default=0) // 1_000_000_000
    try:
        root = book.root.resolve()
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True,
                             timeout=10)
        listed = subprocess.run(["git", "ls-files", "-s", "-z", "--", "."], cwd=root, capture_output=True,
                                text=True, timeout=10)
        if top.returncode == 0 and listed.returncode == 0:
            toplevel = Path(top.stdout.strip())
            committed = {}
            for entry in listed.stdout.split("\0"):
                if entry:
                    meta, _, rel = entry.partition("\t")
                    committed[(toplevel / rel).resolve()] = meta.split()[1]
            clean = all(committed.get(p.resolve()) == blob for p, (_, blob) in files.items())
            if clean and _index_matches_head(root):
                last = subprocess.run(["git", "log", "-1", "--format=%ct", "--", "."], cwd=root,
                                      capture_output=True, text=True, timeout=10)
                if last.stdout.strip():
                    return int(last.stdout.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return int(newest)


def _index_matches_head(root: Path) -> bool:
    """True when nothing under `root` is staged but uncommitted (ls-files shows the index, not HEAD)."""
    staged = subprocess.run(["git", "diff", "--cached", "--quiet", "--", "."], cwd=root, capture_output=True,
                            timeout=10)
    return staged.returncode == 0


# --- views of book.yaml's plan, shared by the formats that show it (site, EPUB) -----------------

PRACTICE = {
    "self-check": "Self-check: answer each topic's interview questions aloud before you reveal the answers; "
                  "mark the ones you miss.",
    "question-books": "Question book: print your role's mock-interview questions (questions-<role>.pdf) and "
                      "answer them on paper, then check against the answers at the back.",
    "anki": "Anki: review the deck, filtered to your role with the search tag:mlprep::role::<role>.",
}


def role_view(book: Book, role, ref, md) -> dict:
    """A role's critical lists with topics resolved by the format's `ref` and notes rendered by its `md`."""
    critical = []
    for c in role.critical_topics:
        if isinstance(c, str):
            critical.append({"title": None, "topics": [ref(c)], "note": None})
        else:
            critical.append({"title": c.title, "topics": [ref(t) for t in c.topics],
                             "note": md(c.note) if c.note else None})
    return {"id": role.id, "title": role.title, "description": role.description, "original": role.original,
            "critical": critical, "also": [ref(t) for t in role.also_critical]}


def path_view(book: Book, path, ref, md) -> dict:
    sections = {s.id: s for s in book.sections}
    return {"id": path.id, "title": path.title, "duration": path.duration, "audience": path.audience,
            "original": path.original,
            "weeks": [{"label": w.label, "title": w.title, "focus": md(w.focus) if w.focus else None,
                       "sections": [{"id": s, "title": sections[s].title, "number": sections[s].number}
                                    for s in w.sections if s in sections],
                       "topics": [ref(t) for t in w.topics],
                       "tracks": [{"label": tr.label, "topics": [ref(t) for t in tr.topics]} for tr in w.tracks],
                       "roles": [book.role(r).title for r in w.roles if book.role(r)],
                       "practice": [PRACTICE[p.value] for p in w.practice]} for w in path.weeks]}


def checklist_view(book: Book, ref, md) -> list[dict]:
    import re

    groups = []
    for g in book.checklist:
        key = re.sub(r"[^a-z0-9]+", "-", g.group.lower()).strip("-")
        entries = []
        for n, item in enumerate(g.items, 1):
            if isinstance(item, str):
                entries.append({"key": f"{key}-{n}", "text": md(item), "topics": []})
            else:
                entries.append({"key": item.id, "text": md(item.text), "topics": [ref(t) for t in item.topics]})
        groups.append({"group": g.group, "key": key, "original": g.original, "entries": entries})
    return groups
