"""The EPUB book: our Jinja template renders one HTML document from the rendered content; the real
pandoc binary (shipped by pypandoc-binary) only packages it as EPUB 3, with MathML and highlighting."""
from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from markupsafe import Markup

from mlprep.builders import BuildError, Options, selected_topics
from mlprep.builders.common import KIND_LABEL, checklist_view, content_time, jinja, path_view, role_view
from mlprep.markdown import render
from mlprep.media import resolver as media_resolver
from mlprep.output import scratch, staged
from schemas.models import Book, Topic

NAME = "epub"
BOOK_FILE = "ml-interview-prep.epub"
KEEP = ("ml-interview-prep--*.epub",)


def pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def build(book: Book, out: Path, options: Options) -> str:
    topics = selected_topics(book, options)
    if not topics:
        raise BuildError(f"no written topic for {options.focus or 'the book'}")
    included = {t.id for t in topics}

    def resolve(topic_id: str, anchor: str | None) -> str | None:
        if topic_id not in included:
            return None
        return f"#{topic_id}--{anchor}" if anchor else f"#{topic_id}"

    def md(text: str, *, inline: bool = False, prefix: str = "", shift: int = 0, reserved=(),
           base: Path | None = None) -> Markup:
        media = media_resolver(base or book.root, book.root, lambda p: str(p))  # pandoc embeds the file
        return Markup(render(text, "epub", resolve, inline=inline, id_prefix=prefix, heading_shift=shift,
                             reserved_ids=reserved, media=media))

    def ref(tid: str) -> dict:
        return {"title": book.title_of(tid), "href": f"#{tid}" if tid in included else None}

    chapters = []
    path = book.path(options.path) if options.path else None
    overviews = {s for w in path.weeks for s in w.sections} if path else set()  # the path reads these overviews
    for s in book.sections:
        chosen = [t for t in s.topics if t.id in included]
        if not chosen and options.focus and s.id not in overviews:
            continue  # a focused book holds only its chapters; the full book shows every section's plan
        n = len(chapters) + 1
        chapters.append({
            "id": s.id, "number": n, "title": s.title, "overview": md(s.overview, shift=1, base=s.source.parent),
            "planned": [book.title_of(p) for p in s.planned] if not options.focus else [],
            "topics": [topic_view(t, f"{n}.{i}", md, ref) for i, t in enumerate(chosen, 1)],
            "answers": any(t.questions for t in chosen),
        })
    paths = [p for p in book.study_paths if not options.path or p.id == options.path]
    env = jinja(options.templates, "epub")
    tpl = env.get_template("book.html").module
    parts = [str(tpl.front(
        book, md(book.overview, shift=1), md(book.how_to_use, shift=1),
        [with_section_links(path_view(book, p, ref, lambda x: md(x, inline=True)), {c["id"] for c in chapters})
         for p in paths],
        [role_view(book, r, ref, lambda x: md(x, inline=True))
         for r in book.roles if not options.role or r.id == options.role],
        checklist_view(book, ref, lambda x: md(x, inline=True))))]
    for ch in chapters:
        parts.append(str(tpl.chapter(ch)))
        parts += [str(tpl.topic(t)) for t in ch["topics"]]
        if ch["answers"]:
            parts.append(str(tpl.answers_heading(ch)))
            parts += [str(tpl.answers(t)) for t in ch["topics"] if t["questions"]]
    focus_title = ""
    if options.role:
        focus_title = book.role(options.role).title
    elif options.path:
        focus_title = book.path(options.path).title
    stamp = content_time(book)
    meta = metadata(book, subtitle=" — ".join(x for x in (book.subtitle, focus_title) if x),
                    description=book.description + (f" Focused edition: {focus_title}." if focus_title else ""))
    filename = BOOK_FILE if not options.focus else f"ml-interview-prep--{options.focus}.epub"
    env_vars = {**os.environ, "SOURCE_DATE_EPOCH": str(stamp)}  # reproducible timestamps in the zip
    with scratch(out.parent, "epub") as work, staged(out, full=not options.focus, keep=KEEP) as tmp:
        w = Path(work)
        (w / "book.json").write_text(to_pandoc_ast(parts, options.jobs, meta), encoding="utf-8")
        (w / "epub.css").write_bytes((options.templates / "epub" / "epub.css").read_bytes())
        cover(book, w / "cover.png", focus_title)
        cmd = [pandoc_path(), "book.json", "--from=json", "--to=epub3",
               "--toc", "--toc-depth=2", "--split-level=1", "--css=epub.css", "--epub-cover-image=cover.png",
               "--mathml", "--syntax-highlighting=tango", f"--output={tmp / filename}"]
        proc = subprocess.run(cmd, cwd=w, capture_output=True, text=True, env=env_vars, timeout=3600)
        if proc.returncode != 0:
            raise BuildError(f"pandoc failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        rewrite_xhtml(tmp / filename, fix_mathml)
        size = (tmp / filename).stat().st_size
    return f"{len(topics)} topics, {size / 1024:.0f} KiB ({filename})"


CHUNK_MAX = 2_000_000  # bytes of HTML per pandoc reader process: bounds its memory on big books


_OPERATOR_MI = re.compile(r"<mi((?:\s+[a-z]+=\"[^\"]*\")*\s+(?:stretchy|minsize|maxsize)=[^>]*)>(.*?)</mi>")
_MATH_TEX = re.compile(r'<math([^>]*)>(.*?<annotation encoding="application/x-tex">(.*?)</annotation>.*?)</math>', re.S)


def fix_mathml(xhtml: str) -> str:
    """pandoc's MathML, made valid EPUB and accessible: a sized delimiter such as \\big/ comes out as an <mi>
    with operator attributes (epubcheck rejects them), so it becomes the <mo> it is; and every <math>
    carries its TeX as alttext, for screen readers and readers without MathML."""
    xhtml = _OPERATOR_MI.sub(r"<mo\1>\2</mo>", xhtml)

    def alt(m: re.Match) -> str:
        attrs, inner, tex = m.group(1), m.group(2), m.group(3)
        if "alttext=" in attrs:
            return m.group(0)
        return f'<math{attrs} alttext="{tex.replace(chr(34), "&quot;").strip()}">{inner}</math>'
    return _MATH_TEX.sub(alt, xhtml)


def rewrite_xhtml(epub: Path, fix) -> None:
    """Apply `fix` to every XHTML file of the EPUB in place, keeping entry order, dates and compression
    (mimetype first and stored, as the OCF container requires)."""
    with zipfile.ZipFile(epub) as z:
        entries = [(info, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(epub, "w") as z:
        for info, data in entries:
            if info.filename.endswith(".xhtml"):
                data = fix(data.decode("utf-8")).encode("utf-8")
            z.writestr(info, data, compress_type=info.compress_type)


def with_section_links(view: dict, chapters: set[str]) -> dict:
    """Link a step's section overviews to their chapters, where the (possibly focused) book has them."""
    for w in view["weeks"]:
        for s in w["sections"]:
            s["href"] = f"#section-{s['id']}" if s["id"] in chapters else None
    return view


def metadata(book: Book, subtitle: str, description: str) -> dict:
    """The EPUB's metadata as pandoc MetaString values: literal text, never read as Markdown, so nothing
    in book.yaml can become markup on the title page or in the package document."""
    def lit(text: str) -> dict:
        return {"t": "MetaString", "c": text}

    def mapping(**kv: str) -> dict:
        return {"t": "MetaMap", "c": {k: lit(v) for k, v in kv.items()}}

    meta = {
        "title": lit(book.title),
        "creator": {"t": "MetaList", "c": [mapping(role="author", text=a) for a in book.authors]},
        "identifier": {"t": "MetaList", "c": [mapping(
            scheme="UUID" if book.identifier.startswith("urn:uuid:") else "URI", text=book.identifier)]},
        "lang": lit(book.language),
        "description": lit(description),
        "subject": {"t": "MetaList", "c": [lit(x) for x in book.subjects]},
        "rights": lit("Generated by mlprep from the project's content."),
    }
    if subtitle:
        meta["subtitle"] = lit(subtitle)
    if book.date:
        meta["date"] = lit(book.date)
    return meta


def to_pandoc_ast(parts: list[str], jobs: int, meta: dict | None = None) -> str:
    """Read the HTML parts into pandoc's AST in parallel chunks and join them into one document.

    pandoc's HTML reader is its slow, memory-hungry step; chunks run on all cores and stay small, and the
    final pandoc call only reads JSON and writes the EPUB (it resolves cross-chunk links itself).
    """
    total = sum(map(len, parts))
    target = min(CHUNK_MAX, max(100_000, total // max(1, jobs * 2)))
    chunks: list[list[str]] = [[]]
    size = 0
    for part in parts:
        if chunks[-1] and size + len(part) > target:
            chunks.append([])
            size = 0
        chunks[-1].append(part)
        size += len(part)

    def read(chunk: list[str]) -> dict:
        html = "<!DOCTYPE html><html><head><title>part</title></head><body>" + "".join(chunk) + "</body></html>"
        proc = subprocess.run([pandoc_path(), "--from=html", "--to=json"], input=html, capture_output=True,
                              text=True, timeout=3600)
        if proc.returncode != 0:
            raise BuildError(f"pandoc could not read the book's HTML: {proc.stderr.strip()[-2000:]}")
        return json.loads(proc.stdout)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # threads: the work is in pandoc processes
        docs = list(pool.map(read, chunks))
    joined = {"pandoc-api-version": docs[0]["pandoc-api-version"], "meta": meta or {},
              "blocks": [b for d in docs for b in d["blocks"]]}
    return json.dumps(joined, ensure_ascii=False)


def topic_view(t: Topic, number: str, md, ref) -> dict:
    qids = tuple(q.id for q in t.questions)
    base = t.source.parent
    return {
        "id": t.id, "n": number, "title": t.title, "summary": md(t.summary, inline=True, base=base),
        "difficulty": t.difficulty.value, "kind_label": KIND_LABEL[t.kind],
        "prerequisites": [ref(p) for p in t.prerequisites],
        "body": md(t.body, prefix=f"{t.id}--", shift=1, reserved=qids, base=base),
        "questions": [{"id": q.id, "level": q.level.value, "q": md(q.q, inline=True, base=base),
                       "a": md(q.a, prefix=f"ans--{t.id}--{q.id}--", base=base)} for q in t.questions],
        "pitfalls": [md(p, base=base) for p in t.pitfalls],
        "reading": t.further_reading,
    }


def cover(book: Book, path: Path, focus: str = "") -> None:
    """A 1600x2400 cover drawn from the book's metadata at build time (no binary kept in the repo)."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = 1600, 2400
    img = Image.new("RGB", (w, h), (16, 42, 67))
    d = ImageDraw.Draw(img)
    d.rectangle([0, int(h * 0.62), w, h], fill=(11, 92, 173))
    for i in range(12):  # a quiet network motif: nodes and edges, deterministic
        x0, y0 = 160 + i * 110, 260 + (i * 97) % 400
        x1, y1 = 160 + ((i + 5) % 12) * 110, 260 + (((i + 5) % 12) * 97) % 400
        d.line([x0, y0, x1, y1], fill=(70, 110, 150), width=4)
        d.ellipse([x0 - 14, y0 - 14, x0 + 14, y0 + 14], fill=(124, 183, 255))

    def font(size: int):
        return ImageFont.load_default(size=size)

    y = 820
    for line in textwrap.wrap(book.title, 16):
        d.text((120, y), line, font=font(150), fill=(255, 255, 255))
        y += 180
    y += 30
    for line in textwrap.wrap(book.subtitle or "", 34):
        d.text((120, y), line, font=font(64), fill=(200, 220, 240))
        y += 84
    if focus:
        d.text((120, y + 40), focus, font=font(72), fill=(255, 214, 102))
    d.text((120, int(h * 0.62) + 120), ", ".join(book.authors), font=font(60), fill=(255, 255, 255))
    d.text((120, h - 200), f"Version {book.version}", font=font(48), fill=(220, 232, 245))
    img.save(path, format="PNG")
