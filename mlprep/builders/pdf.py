"""Print-ready PDFs with WeasyPrint: one landscape cheat sheet per `kind: cheat_sheet` topic (each `##`
block a box), all sheets in one file, and per role a mock-interview question book with answers at the end.
Math is SVG (ziamath), so it prints crisply; a sheet over its page budget fails the build."""
from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

from mlprep.builders import BuildError, Options
from mlprep.markdown import pygments_css, render
from mlprep.output import staged
from schemas.models import Book, Kind, Topic

NAME = "pdf"
PAPER = {"a4": "A4", "letter": "letter"}
COLUMNS = 4


def _css_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def resolve(book: Book):
    def r(topic_id: str, anchor: str | None) -> str | None:
        if book.topic(topic_id) is None or not book.site_url:
            return None  # print: a topic link reads as its text
        return book.site_url.rstrip("/") + f"/topics/{topic_id}.html" + (f"#{anchor}" if anchor else "")
    return r


def split_boxes(body: str) -> list[tuple[str, str]]:
    """Split a cheat sheet body at its `##` headings (outside code fences) into (title, markdown)."""
    boxes: list[tuple[str, list[str]]] = [("", [])]
    fence = None
    for line in body.split("\n"):
        m = re.match(r"^(`{3,}|~{3,})", line)
        if m:
            fence = None if fence and line.startswith(fence) else (fence or m.group(1))
        if fence is None and line.startswith("## "):
            boxes.append((line[3:].strip(), []))
        else:
            boxes[-1][1].append(line)
    return [(title, "\n".join(lines).strip()) for title, lines in boxes if title or "\n".join(lines).strip()]


class Renderer:
    def __init__(self, book: Book, options: Options):
        from mlprep.builders.common import jinja

        self.book, self.options = book, options
        self.env = jinja(options.templates, "pdf")
        self.base_url = str(options.templates / "pdf") + "/"
        self.base_css = (options.templates / "pdf" / "base.css").read_text(encoding="utf-8")
        self.code_css = pygments_css("default", ".highlight")
        self.footer = _css_string(f"{book.title} {book.version}")
        self.paper = PAPER[options.paper]

    def md(self, text: str, inline: bool = False) -> Markup:
        return Markup(render(text, "pdf", resolve(self.book), inline=inline))

    def document(self, html: str):
        from weasyprint import HTML

        return HTML(string=html, base_url=self.base_url).render()

    def sheet(self, t: Topic):
        boxes = [{"title": self.md(title, inline=True) if title else "", "html": self.md(text)}
                 for title, text in split_boxes(t.body)]
        css = self.env.get_template("sheet.css").render(paper=self.paper, footer=self.footer, columns=COLUMNS,
                                                        title=_css_string(t.title), summary=_css_string(t.summary))
        html = self.env.get_template("sheet.html").render(
            book=self.book, sheet=t, boxes=boxes, summary_text=t.summary,
            base_css=Markup(self.base_css), pygments_css=Markup(self.code_css), sheet_css=Markup(css))
        doc = self.document(html)
        if len(doc.pages) > (t.pages or 2):
            over = len(doc.pages) - (t.pages or 2)
            raise BuildError(f"cheat sheet {t.id} ({t.source.name}) overflows its {t.pages}-page budget by "
                             f"{over} page{'s' * (over != 1)} on {self.paper} paper; cut or tighten its boxes")
        return doc

    def questions(self, role) -> object | None:
        topics = [t for t in self.book.topics()
                  if (role.id in t.roles or t.id in role.critical_topics) and t.questions]
        if not topics:
            return None
        views, n = [], 0
        for t in topics:
            qs = []
            for q in t.questions:
                n += 1
                qs.append({"n": n, "level": q.level.value, "q": self.md(q.q, inline=True), "a": self.md(q.a)})
            views.append({"title": t.title, "section": self.book.section_of(t.id).title, "questions": qs})
        css = self.env.get_template("questions.css").render(
            paper=self.paper, footer=self.footer, header=_css_string(f"Mock interview questions: {role.title}"))
        html = self.env.get_template("questions.html").render(
            book=self.book, role=role, topics=views, count=n, base_css=Markup(self.base_css),
            pygments_css=Markup(self.code_css), page_css=Markup(css))
        return self.document(html)


def build(book: Book, out: Path, options: Options) -> str:
    r = Renderer(book, options)
    sheets = [t for t in book.topics() if t.kind is Kind.cheat_sheet]
    docs = {t.id: r.sheet(t) for t in sheets}  # raises BuildError on overflow, before anything is written
    question_docs = {role.id: d for role in book.roles if (d := r.questions(role)) is not None}
    meta = {"created": book.date or None, "modified": book.date or None}
    with staged(out) as tmp:
        for sid, doc in docs.items():
            _write(doc, tmp / f"{sid}.pdf", meta)
        if docs:
            first = next(iter(docs.values()))
            _write(first.copy([p for d in docs.values() for p in d.pages]), tmp / "all-cheat-sheets.pdf", meta)
        for rid, doc in question_docs.items():
            _write(doc, tmp / f"questions-{rid}.pdf", meta)
    pages = ", ".join(f"{sid} {len(d.pages)}p" for sid, d in docs.items())
    return f"{len(docs)} cheat sheets ({pages}), {len(question_docs)} question books, {options.paper}"


def _write(doc, path: Path, meta: dict) -> None:
    doc.metadata.created = meta["created"]
    doc.metadata.modified = meta["modified"]
    doc.write_pdf(path, uncompressed_pdf=False)
