"""Numbers for `mlprep stats`: where each section stands against the guide."""
from __future__ import annotations

from mlprep.loader import shortfalls
from mlprep.markdown import parse
from schemas.models import Book


def topic_numbers(t) -> dict[str, int]:
    body = parse(t.body, tuple(q.id for q in t.questions))
    examples = sum(c.runs for c in body.code) + sum(c.runs for q in t.questions for c in parse(q.a).code)
    return {"words": body.words, "questions": len(t.questions), "examples": examples, "refs": len(t.further_reading)}


def section_stats(book: Book) -> list[tuple]:
    rows = []
    total = {"written": 0, "planned": 0, "words": 0, "questions": 0, "examples": 0, "refs": 0, "short": 0}
    for s in book.sections:
        nums = [topic_numbers(t) for t in s.topics]
        short = sum(1 for t in s.topics if _short(book, t))
        row = {"written": len(s.topics), "planned": len(s.planned),
               **{k: sum(n[k] for n in nums) for k in ("words", "questions", "examples", "refs")}, "short": short}
        rows.append((s.folder, *row.values()))
        for k in total:
            total[k] += row[k]
    rows.append(("total", *total.values()))
    return rows


def _short(book: Book, t) -> list[tuple[str, str]]:
    return shortfalls(t, parse(t.body, tuple(q.id for q in t.questions)), book.minimums)


def shortfall_lines(book: Book) -> list[str]:
    out = []
    for t in book.topics():
        for field, msg in _short(book, t):
            out.append(f"{t.section_id}/{t.id}: {field + ': ' if field else ''}{msg}")
    return out
