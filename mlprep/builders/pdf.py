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
from mlprep.markdown import pygments_css, render, render_inline
from mlprep.media import resolver as media_resolver
from mlprep.output import staged, worker_pool
from schemas.models import Book, Kind, Topic

NAME = "pdf"
PAPER = {"a4": "A4", "letter": "letter"}
LANDSCAPE_MM = {"a4": (297.0, 210.0), "letter": (279.4, 215.9)}
COLUMNS = 4
DEFAULT_SIZE = 7.5  # body type in pt; the fitting may move it between 7 and 8.25 (see other_sizes)
MARGINS_MM = (11.0, 8.0, 9.0, 8.0)  # top, right, bottom, left: the sheet's page margins
GAP_MM, PAD_MM, BORDER_PT = 3.2, 2.0, 0.6  # column gap; box padding and border
MONO_ADVANCE = 0.602  # DejaVu Sans Mono: advance width per character, in em
MIN_PT = 6.0  # nothing printed smaller: code, tables, math
PX_PER_MM, PX_PER_PT = 96 / 25.4, 96 / 72


class _KnownNoise(logging.Filter):
    """WeasyPrint's harmless notices (which subsetting library it uses) are not build problems; its real
    warnings (a missing glyph, an unsupported property) still reach the terminal."""
    NOISE = ("Using fontTools instead of HarfBuzz",)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOISE)


logging.getLogger("weasyprint").addFilter(_KnownNoise())


_GLYPH_PATH = re.compile(r"(?:[MLQZ](?: -?\d+(?:\.\d+)?)* ?)+")
_ARGS = {"M": 2, "L": 2, "Q": 4, "Z": 0}


def glyph_path(svg, node, font_size):
    """WeasyPrint's SVG `<path>` drawing, for the paths our math is made of (ziafont's glyph outlines:
    absolute M, L, Q and Z, each letter written out, plain numbers): the same stream operations, in the
    same order, from the same arithmetic, so the PDF is byte-identical (tests/test_pdf.py checks), at a
    fraction of the cost of the general parser, which re-reads every number through a chain of regexes.
    Any other path goes to WeasyPrint's own code."""
    from math import atan2, pi

    d = node.get("d", "")
    tokens = d.split()
    if not _GLYPH_PATH.fullmatch(" ".join(tokens)):
        return _weasy_path(svg, node, font_size)
    ops, i = [], 0
    while i < len(tokens):
        letter, n = tokens[i], _ARGS[tokens[i]]
        args = tokens[i + 1:i + 1 + n]
        if len(args) != n or any(a in _ARGS for a in args):
            return _weasy_path(svg, node, font_size)  # an implicit repeat or a short command: the general parser
        ops.append((letter, [float(a) for a in args]))
        i += 1 + n
    stream, vertices = svg.stream, node.vertices
    current = (0, 0)
    stream.move_to(*current)
    last = first = None
    for letter, a in ops:
        if last in (None, "Z") and letter != "M":
            vertices.append(current)
            first = current
        if last in (None, "M", "Z"):
            first = None
        if letter != "M" and letter != "Z" and first is None:
            first = current
        if letter == "L":
            x, y = a
            angle = atan2(y - current[1], x - current[0])
            vertices.append((pi - angle, angle))
            stream.line_to(x, y)
            current = x, y
        elif letter == "M":
            x, y = a
            if last and last != "Z":
                vertices.append(None)
            stream.move_to(x, y)
            current = x, y
        elif letter == "Q":
            (x1, y1), (x2, y2, x3, y3) = current, a
            stream.curve_to(x2 * 2 / 3 + x1 / 3, y2 * 2 / 3 + y1 / 3, x2 * 2 / 3 + x3 / 3, y2 * 2 / 3 + y3 / 3, x3, y3)
            vertices.append((0, 0))
            current = x3, y3
        elif first:  # Z
            vertices.append(None)
            stream.close()
            current = first
        if letter != "Z":
            vertices.append(current)
        last = letter


_weasy_path = None  # WeasyPrint's own path drawing, once glyph_path is installed in its place


def _install_glyph_path() -> None:
    import weasyprint.svg as wsvg

    global _weasy_path
    if wsvg.TAGS["path"] is not glyph_path:
        _weasy_path = wsvg.TAGS["path"]
        wsvg.TAGS["path"] = glyph_path


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
        _install_glyph_path()
        self.env = jinja(options.templates, "pdf")
        self.base_url = str(options.templates / "pdf") + "/"
        self.base_css = (options.templates / "pdf" / "base.css").read_text(encoding="utf-8")
        self.code_css = pygments_css("default", ".highlight")
        self.footer = f"{book.title} {book.version}"
        self.fetcher = fetcher([options.templates / "pdf", book.root])
        self.paper = PAPER[options.paper]

    def md(self, text: str, base: Path, inline: bool = False, math_size: float = 10, **kw) -> Markup:
        """Math in px matches the type around it (10 px for 7.5 pt). Images resolve inside content/ only
        (the fetcher refuses anything else anyway); topic links print their number ("§ 3.2")."""
        media = media_resolver(base, self.book.root, lambda p: p.as_uri())
        return Markup(render(text, "pdf", resolve(self.book), inline=inline, math_size=math_size, media=media,
                             cite=self.cite, **kw))

    def inline(self, text: str, base: Path, **kw) -> Markup:
        """A heading or title: inline Markdown only, so "1. Setup" stays text and never becomes a list."""
        return Markup(render_inline(text, "pdf", resolve(self.book), math_size=kw.get("math_size", 10),
                                    cite=self.cite))

    def cite(self, topic_id: str) -> str:
        return f"§ {self.book.number_of(topic_id)}"

    def document(self, html: str):
        from weasyprint import HTML

        doc = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher).render()
        if self.fetcher.refused:
            raise BuildError(f"refused to read {', '.join(sorted(set(self.fetcher.refused)))}")
        return doc

    def sheet(self, t: Topic):
        """Lay out a cheat sheet: boxes flow through balanced columns (a box may continue in the next
        column), nothing is wider than its column, and the type size is the default unless another keeps
        the sheet within its page budget with its pages better filled (see `fill` and `other_sizes`)."""
        budget = t.pages or 2
        tried = [self._attempt(t, DEFAULT_SIZE)]
        if not fits(tried[0], budget):
            for size in other_sizes(len(tried[0][1].pages), budget, tried[0][2][-1]):
                tried.append(self._attempt(t, size))
                if fits(tried[-1], budget):
                    break
        fitting = [x for x in tried if len(x[1].pages) <= budget]
        if not fitting:
            over = min(len(d.pages) for _, d, _ in tried) - budget
            raise BuildError(f"cheat sheet {t.id} ({t.source.name}) overflows its {budget}-page budget by "
                             f"{over} page{'s' * (over != 1)} on {self.paper} paper even at "
                             f"{min(s for s, _, _ in tried)} pt; cut or tighten its boxes")
        size, doc, fills = max(fitting, key=lambda x: (good_fill(x[2]), -len(x[1].pages), min(x[2]), x[0]))
        wide = overflows(doc)
        if wide:
            raise BuildError(f"cheat sheet {t.id}: {wide[0]} is wider than its column")
        doc.fills, doc.type_size = fills, size  # reported in the build summary
        return doc

    def _attempt(self, t: Topic, size: float) -> tuple[float, object, list[float]]:
        doc = self._sheet_at(t, size)
        return size, doc, fill(doc)

    def _sheet_at(self, t: Topic, size: float):
        base = t.source.parent
        geometry = column_geometry(self.options.paper, size)
        kw = dict(math_size=size * 4 / 3, math_width=geometry["math_px"], code_fit=code_fitter(geometry))
        boxes = []
        for title, text in split_boxes(t.body):
            try:
                boxes.append({"title": self.inline(title, base) if title else "", "html": self.md(text, base, **kw)})
            except ValueError as e:  # a formula that cannot fit a column even at 6 pt
                raise BuildError(f"cheat sheet {t.id}, box {title!r}: {e}") from None
        css = self.env.get_template("sheet.css").render(
            paper=self.paper, footer=self.footer, columns=COLUMNS, title=t.title, summary=t.summary,
            online=self.online(t), **geometry)
        html = self.env.get_template("sheet.html").render(
            book=self.book, sheet=t, boxes=boxes, summary_text=t.summary, number=self.book.number_of(t.id),
            qr=Markup(qr_svg(self.online(t))) if self.online(t) else "",
            base_css=Markup(self.base_css), pygments_css=Markup(self.code_css), sheet_css=Markup(css))
        return self.document(html)

    def online(self, t: Topic) -> str:
        return self.book.site_url.rstrip("/") + f"/topics/{t.id}.html" if self.book.site_url else ""

    def question_part(self, kind: str, t: Topic | None = None, role=None):
        """One shared part of the question books: "front" (a role's title page and contents), "divider"
        (the answers' title page), or a topic's "questions" (with room to write) or "answers"."""
        ctx: dict = {"part": kind}
        if kind == "front":
            topics = role_topics(self.book, role)
            ctx.update(role=role, count=sum(len(x.questions) for x in topics), topics=[
                {"number": self.book.number_of(x.id), "title": x.title, "section": self.book.section_of(x.id).title,
                 "count": len(x.questions)} for x in topics])
            title, running = f"Mock interview questions: {role.title}", ""
        elif kind == "divider":
            title, running = "Part 2 — Answers", ""
        else:
            base, number = t.source.parent, self.book.number_of(t.id)
            ctx["t"] = {"number": number, "title": t.title, "section": self.book.section_of(t.id).title,
                        "questions": [{"n": f"{number}.{i}", "level": q.level.value,
                                       "level_word": q.level.value.capitalize(),
                                       "q": self.inline(q.q, base, math_size=13),
                                       "short": self.inline(q.short, base, math_size=13),
                                       "a": self.md(q.a, base, math_size=13) if kind == "answers" else "",
                                       "lines": writing_lines(q.a)} for i, q in enumerate(t.questions, 1)]}
            title = f"§ {number} {t.title}: {'answers' if kind == 'answers' else 'questions'}"
            running = f"§ {number} {t.title} — {'Part 2, answers' if kind == 'answers' else 'Part 1, questions'}"
        css = self.env.get_template("questions.css").render(
            paper=self.paper, footer=self.footer, header="Mock interview questions", running=running,
            pager=f"§ {self.book.number_of(t.id)} · page " if t else "Page ")
        html = self.env.get_template("questions.html").render(
            book=self.book, doc_title=title, base_css=Markup(self.base_css), pygments_css=Markup(self.code_css),
            page_css=Markup(css), **ctx)
        return self.document(html)


# --- sheet geometry, fitting and measurement --------------------------------------------------

def writing_lines(answer: str) -> int:
    """Room to write an answer: a line per ~18 words of the model answer, never fewer than six."""
    from mlprep.markdown import count_words

    return max(6, -(-count_words(answer) // 18))


def column_geometry(paper: str, size: float) -> dict:
    """The sheet's layout numbers, shared by the CSS template and the fitting code so they agree."""
    width = LANDSCAPE_MM[paper][0] - MARGINS_MM[1] - MARGINS_MM[3]
    column = (width - (COLUMNS - 1) * GAP_MM) / COLUMNS
    content_px = (column - 2 * PAD_MM) * PX_PER_MM - 2 * BORDER_PT * PX_PER_PT
    return {"size": size, "gap_mm": GAP_MM, "pad_mm": PAD_MM, "border_pt": BORDER_PT, "margins_mm": MARGINS_MM,
            "column_px": content_px, "math_px": content_px - 2, "code_px": content_px - 2 * PX_PER_MM}


def code_fitter(geometry: dict):
    """Print code unwrapped at the largest size (at most body size − 0.5 pt, at least 6 pt) at which its
    longest line fits the column; below 6 pt, wrap at token boundaries with a hanging indent instead.
    Lines that only check the example (`assert …`) are not printed on a sheet."""
    width_pt = geometry["code_px"] / PX_PER_PT

    def fit(code: str) -> tuple[str, float]:
        lines = [ln.expandtabs(4) for ln in code.rstrip("\n").split("\n") if not re.match(r"\s*assert\b", ln)]
        longest = max((len(ln) for ln in lines), default=1) or 1
        size = min(geometry["size"] - 0.5, width_pt / (MONO_ADVANCE * longest))
        if size >= MIN_PT:
            return "\n".join(lines) + "\n", size
        limit = int(width_pt / (MONO_ADVANCE * MIN_PT))
        return "\n".join(w for ln in lines for w in wrap_code(ln, limit)) + "\n", MIN_PT
    return fit


def wrap_code(line: str, limit: int) -> list[str]:
    """Break a code line at token boundaries (after spaces, commas, operators), continuation lines
    indented four spaces past the original indent; a wrapped comment continues as a comment."""
    if len(line) <= limit:
        return [line]
    indent = len(line) - len(line.lstrip())
    hang = " " * min(indent + 4, limit // 2)
    comment = re.search(r"(^|\s)#", line)
    start = comment.end() - 1 if comment else len(line)
    out, current, pos = [], line[:indent], indent
    for tok in re.findall(r"[^\s,(\[{=+*/-]*[\s,(\[{=+*/-]*", line[indent:]):
        if not tok:
            continue
        cont = hang + ("# " if pos > start else "")
        if len(current) + len(tok.rstrip()) > limit and current.strip():
            out.append(current.rstrip())
            current = cont
        while len(current) + len(tok) > limit and len(tok) > limit - len(cont):  # one huge token
            room = max(1, limit - len(current))
            out.append(current + tok[:room])
            tok, current = tok[room:], cont
        current += tok
        pos += len(tok)
    out.append(current.rstrip())
    return out


def _walk(box, context=""):
    """Every layout box with the title of the sheet box (`section.box`) it sits in."""
    yield box, context
    if getattr(box, "element_tag", None) == "section":
        context = next((b.text for b, _ in _walk_plain(box) if type(b).__name__ == "TextBox"), context)
    for child in getattr(box, "children", ()):
        yield from _walk(child, context)


def _walk_plain(box):
    yield box, ""
    for child in getattr(box, "children", ()):
        yield from _walk_plain(child)


def _columns(page):
    """The column fragments of the sheet's multi-column container on one laid-out page."""
    root = page._page_box
    return [b for b, _ in _walk_plain(root)
            if getattr(b, "element_tag", None) == "div" and (b.element.get("class") or "") == "boxes"
            and b.width < root.width / 2]


def fill(doc) -> list[float]:
    """Per page, the share of the text area the columns use: the height each column's content reaches,
    summed over the columns, divided by columns × the height available to them."""
    fills = []
    for page in doc.pages:
        root = page._page_box
        bottom = root.content_box_y() + root.height
        columns = _columns(page)
        if not columns:
            fills.append(0.0)
            continue
        top = min(c.position_y for c in columns)
        used = sum(max((ch.position_y + ch.margin_height() for ch in c.children), default=c.position_y) - top
                   for c in columns)
        fills.append(min(1.0, used / (COLUMNS * (bottom - top))))
    return fills


def other_sizes(pages: int, budget: int, last_fill: float) -> list[float]:
    """Type sizes to try after the default, in order: smaller when the sheet is over budget or its last
    page is nearly empty (it may fit one page fewer), larger when the last page is merely thin."""
    if pages > budget or last_fill < 0.3:
        return [7.25, 7.0] + ([7.75, 8.0] if pages <= budget else [])
    return [7.75, 8.0, 8.25, 7.25, 7.0]


def fits(attempt: tuple[float, object, list[float]], budget: int) -> bool:
    _, doc, fills = attempt
    return len(doc.pages) <= budget and good_fill(fills)


def good_fill(fills: list[float]) -> bool:
    """The sheet's fill rule: every page but the last at least 85 % full, the last at least 60 %, as ink on
    the printed page. Measured here from the layout, where a column's height includes its last box's
    padding and border (no ink), so the layout must clear each bar by two points."""
    return all(f >= 0.87 for f in fills[:-1]) and (not fills or fills[-1] >= 0.62)


def overflows(doc) -> list[str]:
    """Anything drawn past the right edge of its column, as 'box "Title": what'."""
    found = []
    for page in doc.pages:
        for column in _columns(page):
            right = column.position_x + column.width + 1.0
            for box, title in _walk(column):
                if box is not column and box.position_x + box.margin_width() > right:
                    what = getattr(box, "text", None) or getattr(box, "element_tag", "") or type(box).__name__
                    found.append(f'box "{title}": {what[:40]!r}')
    return found


def qr_svg(url: str) -> str:
    """A small QR code to the sheet's page on the site, drawn as inline SVG (no image file)."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=1, border=0, dark="#0b3d6e")


_STATE: dict = {}  # inherited by forked workers: the book and the options


def jobs_for(book: Book, options: Options) -> list[tuple[str, str, str, str]]:
    """(name, cache key, kind, argument) for every PDF or shared part, keyed by exactly what it is made from.

    Question books share their parts: each topic's questions and answers are rendered once, whatever the
    number of roles that include it, and each role's book is assembled from them (see `assemble`); the
    all-sheets file is assembled from the sheets (see `all_sheets`), never laid out a second time."""
    base = digest(tool_digest(), tree_digest(options.templates / "pdf", options.templates / "shared"),
                  options.paper, book.title, book.version, book.date, book.site_url, book.language)
    sheets = [t for t in book.topics() if t.kind is Kind.cheat_sheet]
    numbers = [(t.id, book.number_of(t.id)) for t in book.topics()]  # a moved topic renumbers the links
    jobs = [(f"{t.id}.pdf", digest(base, t.digest, numbers), "sheet", t.id) for t in sheets]
    in_books = {t.id: t for role in book.roles for t in role_topics(book, role)}
    for t in book.topics():
        if t.id in in_books:
            key = digest(base, t.digest, numbers, book.section_of(t.id).title)
            jobs += [(f"part:questions:{t.id}", key, "questions", t.id), (f"part:answers:{t.id}", key, "answers", t.id)]
    for role in book.roles:
        if role_topics(book, role):
            key = digest(base, role.model_dump(), [(t.id, t.title, len(t.questions)) for t in role_topics(book, role)],
                         numbers, [book.section_of(t.id).title for t in role_topics(book, role)])
            jobs.append((f"part:front:{role.id}", key, "front", role.id))
    if in_books:
        jobs.append(("part:divider", base, "divider", ""))
    return jobs


def role_topics(book: Book, role) -> list[Topic]:
    return [t for t in book.topics() if (role.id in t.roles or t.id in role.critical_ids()) and t.questions]


def render_job(job: tuple[str, str, str, str]) -> tuple[str, bytes | None, str, str | None]:
    """Render one PDF or part; returns (name, bytes, a summary such as "2p, fill 96%/71%, 7.5 pt", error).
    Runs in a worker process."""
    name, _, kind, arg = job
    gc.enable()  # WeasyPrint's layout trees are cyclic: without the collector a big book needs GBs
    book, options = _STATE["book"], _STATE["options"]
    r = Renderer(book, options)
    try:
        if kind == "sheet":
            doc = r.sheet(book.topic(arg))
        elif kind in ("questions", "answers"):
            doc = r.question_part(kind, t=book.topic(arg))
        elif kind == "front":
            doc = r.question_part(kind, role=book.role(arg))
        else:
            doc = r.question_part(kind)
    except BuildError as e:
        return name, None, "", str(e)
    doc.metadata.created = doc.metadata.modified = book.date or None  # fixed dates: reproducible files
    summary = f"{len(doc.pages)}p"
    if getattr(doc, "fills", None):
        summary += f", fill {'/'.join(f'{f:.0%}' for f in doc.fills)}, {doc.type_size:g} pt"
    return name, doc.write_pdf(), summary, None


def assemble(book: Book, role, parts: dict[str, bytes]) -> bytes:
    """A role's question book: its front page, each of its topics' questions, the answers' title page, each
    topic's answers, with a two-level outline (part, then topic)."""
    topics = role_topics(book, role)
    return concatenate(book, f"Mock interview questions: {role.title} — {book.title}", role.id, parts, [
        (f"part:front:{role.id}", f"Mock interview questions: {role.title}", None),
        (None, "Part 1 — Questions", None),
        *[(f"part:questions:{t.id}", f"§ {book.number_of(t.id)} {t.title}", "Part 1 — Questions") for t in topics],
        ("part:divider", "Part 2 — Answers", None),
        *[(f"part:answers:{t.id}", f"§ {book.number_of(t.id)} {t.title}", "Part 2 — Answers") for t in topics]])


def all_sheets(book: Book, files: dict[str, bytes]) -> bytes:
    """Every cheat sheet in one file: the sheets' own PDFs joined, each keeping its outline (sheet, then
    box), so the pages are exactly the single sheets' pages."""
    sheets = [f"{t.id}.pdf" for t in book.topics() if t.kind is Kind.cheat_sheet]
    return concatenate(book, f"All cheat sheets — {book.title}", "all-cheat-sheets", files,
                       [(name, None, None) for name in sheets])


def concatenate(book: Book, title: str, seed: str, parts: dict[str, bytes],
                plan: list[tuple[str | None, str | None, str | None]]) -> bytes:
    """Join PDFs in the order of `plan`: (part name or None for a bare outline entry, outline label or
    None to keep the part's own outline, label of the parent entry). Reproducible: fixed dates and id."""
    import io

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, ByteStringObject

    writer = PdfWriter()
    entries: dict[str, object] = {}
    for name, label, parent in plan:
        start = len(writer.pages)
        if name:
            writer.append(PdfReader(io.BytesIO(parts[name])), import_outline=label is None)
        if label:
            entries[label] = writer.add_outline_item(label, start, parent=entries.get(parent) if parent else None)
    stamp = f"D:{(book.date or '2000-01-01').replace('-', '')}000000Z"
    writer.add_metadata({"/Title": title, "/Creator": "mlprep",
                         "/Producer": "mlprep (WeasyPrint, pypdf)", "/CreationDate": stamp, "/ModDate": stamp})
    used = sorted({name for name, _, _ in plan if name})
    ident = digest(seed, [len(parts[n]) for n in used], [hash_bytes(parts[n]) for n in used])[:32]
    writer._ID = ArrayObject([ByteStringObject(bytes.fromhex(ident)), ByteStringObject(bytes.fromhex(ident))])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def hash_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def build(book: Book, out: Path, options: Options) -> str:
    cache = Keys(out.parent, f"pdf-files-{options.paper}")
    if options.force:
        cache.forget()
    parts_dir = out.parent / ".cache" / f"pdf-parts-{options.paper}"
    jobs = jobs_for(book, options)

    def stored(name: str, key: str) -> Path:
        return (parts_dir / f"{name.replace(':', '-')}-{key[:16]}.pdf") if name.startswith("part:") else out / name

    reuse = {name for name, key, _, _ in jobs if cache.fresh(name, key) and stored(name, key).is_file()}
    todo = [j for j in jobs if j[0] not in reuse]
    # the longest first (answers, then questions), so the pool stays busy to the end
    todo.sort(key=lambda j: {"answers": 0, "questions": 1, "sheet": 2}.get(j[2], 3))
    _STATE.update(book=book, options=options)
    if options.jobs > 1 and len(todo) > 1:
        with worker_pool(min(options.jobs, len(todo))) as pool:
            results = list(pool.map(render_job, todo))
    else:
        results = [render_job(j) for j in todo]
    errors = [err for _, _, _, err in results if err]
    if errors:
        raise BuildError("; ".join(errors))  # nothing written: the last good PDFs stay
    keys = {name: key for name, key, _, _ in jobs}
    data = {name: blob for name, blob, _, _ in results}
    data.update({name: stored(name, keys[name]).read_bytes() for name in reuse})
    parts_dir.mkdir(parents=True, exist_ok=True)
    for name in data:
        if name.startswith("part:") and name not in reuse:
            stored(name, keys[name]).write_bytes(data[name])
    for old in parts_dir.glob("*.pdf"):  # parts no job refers to any more
        if old not in {stored(n, k) for n, k in keys.items() if n.startswith("part:")}:
            old.unlink()
    books = {f"questions-{role.id}.pdf": assemble(book, role, data) for role in book.roles if role_topics(book, role)}
    if any(kind == "sheet" for _, _, kind, _ in jobs):
        books["all-cheat-sheets.pdf"] = all_sheets(book, data)
    with staged(out) as tmp:
        for name, blob in list(data.items()) + list(books.items()):
            if not name.startswith("part:"):
                (tmp / name).write_bytes(blob)
    cache.save()
    summaries = {name: summary for name, _, summary, _ in results}
    sheets = "; ".join(f"{n[:-4]} {x}" for n, x in summaries.items() if n.endswith(".pdf"))
    rendered = sum(1 for name, *_ in todo if not name.startswith("part:"))
    return (f"{sum(1 for n, *_ in jobs if not n.startswith('part:')) + len(books)} PDFs ({rendered} rendered, "
            f"{len([n for n, *_ in todo if n.startswith('part:')])} of {len([n for n, *_ in jobs if n.startswith('part:')])} "
            f"question-book parts rendered; {sheets or 'no sheet re-rendered'}), {options.paper}")
