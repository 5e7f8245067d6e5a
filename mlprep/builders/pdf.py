"""Print-ready PDFs with WeasyPrint: one landscape cheat sheet per `kind: cheat_sheet` topic (each `##`
block a box), all sheets in one file, and per role a mock-interview question book with answers at the end.
Math is SVG (ziamath), so it prints crisply; a sheet over its page budget fails the build."""
from __future__ import annotations

import gc
import logging
import re
from pathlib import Path

from markupsafe import Markup

from mlprep.builders import BuildError, Options
from mlprep.cache import Keys, digest, tool_digest, tree_digest
from mlprep.markdown import pygments_css, render
from mlprep.media import resolver as media_resolver
from mlprep.output import staged, worker_pool
from schemas.models import Book, Kind, Topic

NAME = "pdf"
PAPER = {"a4": "A4", "letter": "letter"}
COLUMNS = 4


class _KnownNoise(logging.Filter):
    """WeasyPrint's harmless notices (which subsetting library it uses) are not build problems; its real
    warnings (a missing glyph, an unsupported property) still reach the terminal."""
    NOISE = ("Using fontTools instead of HarfBuzz",)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOISE)


logging.getLogger("weasyprint").addFilter(_KnownNoise())


def fetcher(allowed: list[Path]):
    """A WeasyPrint URL fetcher that reads only files under `allowed` (the PDF templates and fonts, the
    content's own media) and data: URLs. Everything else (other files, any network) is refused and
    remembered in `.refused`, so the build can fail loudly instead of printing a warning."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from weasyprint.urls import URLFetcher

    roots = [p.resolve() for p in allowed]

    class Fetcher(URLFetcher):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "file":
                path = Path(url2pathname(urlsplit(url).path)).resolve()
                if path.is_file() and any(path.is_relative_to(r) for r in roots):
                    return super().fetch(url, headers)
            elif scheme == "data":
                return super().fetch(url, headers)
            self.refused.append(url)
            raise ValueError(f"mlprep refuses to fetch {url}: only the templates and content/ media are read")

    return Fetcher(timeout=5, allowed_protocols=("file", "data"))


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
        self.footer = f"{book.title} {book.version}"
        self.fetcher = fetcher([options.templates / "pdf", book.root])
        self.paper = PAPER[options.paper]

    def md(self, text: str, base: Path, inline: bool = False, math_size: float = 10) -> Markup:
        """10 px math matches the sheets' 7.5 pt type; the question books' 10 pt type wants 13 px. Images
        resolve inside content/ only (the fetcher refuses anything else anyway)."""
        media = media_resolver(base, self.book.root, lambda p: p.as_uri())
        return Markup(render(text, "pdf", resolve(self.book), inline=inline, math_size=math_size, media=media))

    def document(self, html: str):
        from weasyprint import HTML

        doc = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher).render()
        if self.fetcher.refused:
            raise BuildError(f"refused to read {', '.join(sorted(set(self.fetcher.refused)))}")
        return doc

    def sheet(self, t: Topic):
        base = t.source.parent
        boxes = [{"title": self.md(title, base, inline=True) if title else "", "html": self.md(text, base)}
                 for title, text in split_boxes(t.body)]
        css = self.env.get_template("sheet.css").render(paper=self.paper, footer=self.footer, columns=COLUMNS,
                                                        title=t.title, summary=t.summary)
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
        topics = role_topics(self.book, role)
        if not topics:
            return None
        views, n = [], 0
        for t in topics:
            qs = []
            for q in t.questions:
                n += 1
                base = t.source.parent
                qs.append({"n": n, "level": q.level.value, "q": self.md(q.q, base, inline=True, math_size=13),
                           "a": self.md(q.a, base, math_size=13)})
            views.append({"title": t.title, "section": self.book.section_of(t.id).title, "questions": qs})
        css = self.env.get_template("questions.css").render(
            paper=self.paper, footer=self.footer, header=f"Mock interview questions: {role.title}")
        html = self.env.get_template("questions.html").render(
            book=self.book, role=role, topics=views, count=n, base_css=Markup(self.base_css),
            pygments_css=Markup(self.code_css), page_css=Markup(css))
        return self.document(html)


_STATE: dict = {}  # inherited by forked workers: the book and the options


def jobs_for(book: Book, options: Options) -> list[tuple[str, str, str, str]]:
    """(file name, cache key, kind, argument) for every PDF, keyed by exactly what it is made from."""
    base = digest(tool_digest(), tree_digest(options.templates / "pdf", options.templates / "shared"),
                  options.paper, book.title, book.version, book.date, book.site_url, book.language)
    sheets = [t for t in book.topics() if t.kind is Kind.cheat_sheet]
    jobs = [(f"{t.id}.pdf", digest(base, t.digest), "sheet", t.id) for t in sheets]
    if sheets:
        jobs.append(("all-cheat-sheets.pdf", digest(base, [t.digest for t in sheets]), "all", ""))
    for role in book.roles:
        topics = role_topics(book, role)
        if topics:
            key = digest(base, role.model_dump(), [(t.digest, book.section_of(t.id).title) for t in topics])
            jobs.append((f"questions-{role.id}.pdf", key, "questions", role.id))
    return jobs


def role_topics(book: Book, role) -> list[Topic]:
    return [t for t in book.topics() if (role.id in t.roles or t.id in role.critical_ids()) and t.questions]


def render_job(job: tuple[str, str, str, str]) -> tuple[str, bytes | None, int, str | None]:
    """Render one PDF; returns (file name, bytes, pages, error). Runs in a worker process."""
    name, _, kind, arg = job
    gc.enable()  # WeasyPrint's layout trees are cyclic: without the collector a big book needs GBs
    book, options = _STATE["book"], _STATE["options"]
    r = Renderer(book, options)
    meta = book.date or None
    try:
        if kind == "sheet":
            doc = r.sheet(book.topic(arg))
        elif kind == "all":
            docs = [r.sheet(t) for t in book.topics() if t.kind is Kind.cheat_sheet]
            doc = docs[0].copy([p for d in docs for p in d.pages])
        else:
            doc = r.questions(book.role(arg))
    except BuildError as e:
        return name, None, 0, str(e)
    doc.metadata.created = doc.metadata.modified = meta  # fixed dates: reproducible files
    return name, doc.write_pdf(), len(doc.pages), None


def build(book: Book, out: Path, options: Options) -> str:
    cache = Keys(out.parent, f"pdf-files-{options.paper}")
    if options.force:
        cache.forget()
    jobs = jobs_for(book, options)
    reuse = {name for name, key, _, _ in jobs if cache.fresh(name, key) and (out / name).is_file()}
    todo = [j for j in jobs if j[0] not in reuse]
    # the longest first (question books), so the pool stays busy to the end
    todo.sort(key=lambda j: {"questions": 0, "all": 1, "sheet": 2}[j[2]])
    _STATE.update(book=book, options=options)
    if options.jobs > 1 and len(todo) > 1:
        with worker_pool(min(options.jobs, len(todo))) as pool:
            results = list(pool.map(render_job, todo))
    else:
        results = [render_job(j) for j in todo]
    errors = [err for _, _, _, err in results if err]
    if errors:
        raise BuildError("; ".join(errors))  # nothing written: the last good PDFs stay
    pages = {name: n for name, _, n, _ in results}
    with staged(out) as tmp:
        for name, data, _, _ in results:
            (tmp / name).write_bytes(data)
        for name in reuse:
            (tmp / name).write_bytes((out / name).read_bytes())
    cache.save()
    sheets = ", ".join(f"{n[:-4]} {p}p" for n, p in pages.items() if not n.startswith(("questions-", "all-")))
    return (f"{len(jobs)} PDFs ({len(todo)} rendered, {len(reuse)} unchanged; {sheets or 'no sheet re-rendered'}), "
            f"{options.paper}")
