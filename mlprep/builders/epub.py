"""The EPUB book: our Jinja template renders one HTML document from the rendered content; the real
pandoc binary (shipped by pypandoc-binary) only packages it as EPUB 3, with MathML and highlighting."""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from markupsafe import Markup

from mlprep.builders import BuildError, Options, selected_topics
from mlprep.builders.common import KIND_LABEL, checklist_view, content_time, jinja, path_view, role_view
from mlprep.cache import digest
from mlprep.markdown import render
from mlprep.media import resolver as media_resolver
from mlprep.output import scratch, staged, worker_pool
from schemas.models import Book, Topic

NAME = "epub"
BOOK_FILE = "ml-interview-prep.epub"
KINDLE_FILE = "ml-interview-prep-kindle.epub"  # every formula an image: for readers without MathML
KEEP = ("ml-interview-prep--*.epub", "ml-interview-prep-kindle--*.epub")


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
        chapters.append({  # numbered as everywhere: chapter 3, topic 3.2, question 3.2.5
            "id": s.id, "number": s.number, "title": s.title, "overview": md(s.overview, shift=1, base=s.source.parent),
            "planned": [book.title_of(p) for p in s.planned] if not options.focus else [],
            "topics": [topic_view(t, book.number_of(t.id), md, ref) for t in chosen],
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
    kindle = KINDLE_FILE if not options.focus else f"ml-interview-prep-kindle--{options.focus}.epub"
    with scratch(out.parent, "epub") as work, staged(out, full=not options.focus, keep=KEEP) as tmp:
        w = Path(work)
        ast = json.loads(to_pandoc_ast(parts, options.jobs, meta))
        (w / "book.json").write_text(json.dumps(ast, ensure_ascii=False), encoding="utf-8")
        (w / "epub.css").write_bytes((options.templates / "epub" / "epub.css").read_bytes())
        cover(book, w / "cover.png", options.templates / "pdf" / "fonts", focus_title)

        def mathml_edition() -> None:
            pandoc_epub(w, "book.json", tmp / filename, ["--mathml"], env_vars)
            rewrite_xhtml(tmp / filename, lambda x: titled(fix_mathml(x)))

        # pandoc writes an EPUB on one core: with more, the MathML edition is written while the Kindle
        # edition's formulas are drawn and written
        with ThreadPoolExecutor(max_workers=1) as side:
            first = side.submit(mathml_edition) if options.jobs > 1 else None
            if first is None:
                mathml_edition()
            # the Kindle edition: the same book, every formula an image with its TeX as alt text
            images = math_images(math_nodes(ast), w / "math", out.parent / ".cache" / "math-png", options.jobs)
            (w / "kindle.json").write_text(json.dumps(with_math_images(ast, images), ensure_ascii=False),
                                           encoding="utf-8")
            pandoc_epub(w, "kindle.json", tmp / kindle, [], env_vars)
            rewrite_xhtml(tmp / kindle, titled)
            if first is not None:
                first.result()  # its BuildError, if any, fails the build here
        size, ksize = (tmp / filename).stat().st_size, (tmp / kindle).stat().st_size
    return (f"{len(topics)} topics, {size / 1024:.0f} KiB ({filename}); Kindle edition with {len(images)} "
            f"formula images, {ksize / 1024:.0f} KiB ({kindle})")


def pandoc_epub(work: Path, source: str, target: Path, extra: list[str], env: dict) -> None:
    cmd = [pandoc_path(), source, "--from=json", "--to=epub3", "--toc", "--toc-depth=2", "--split-level=2",
           "--css=epub.css", "--epub-cover-image=cover.png", "--syntax-highlighting=tango", *extra,
           f"--output={target}"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise BuildError(f"pandoc failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


# --- formulas as images, for the Kindle edition ------------------------------------------------------

READING_PX = 16  # one em of body text on an e-reader, the size images are drawn for (at twice the pixels)
SCREEN_PX = 600  # the narrowest screen a formula must fit


def math_nodes(ast) -> set[tuple[str, bool]]:
    """Every (TeX, display) formula in a pandoc AST."""
    found: set[tuple[str, bool]] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("t") == "Math":
                found.add((node["c"][1], node["c"][0]["t"] == "DisplayMath"))
            else:
                walk(node.get("c"))
        elif isinstance(node, list):
            for x in node:
                walk(x)
    walk(ast["blocks"])
    return found


def math_images(formulas: set[tuple[str, bool]], folder: Path, cache: Path, jobs: int) -> dict:
    """Draw each formula once as a PNG at twice the reading size (cached by content across builds):
    (TeX, display) -> (relative path, width px, height px, baseline offset px), drawn at 2 × READING_PX."""
    folder.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    todo, out = [], {}
    for tex, display in sorted(formulas):
        key = digest("math-png-1", tex, display)[:24]
        meta = cache / f"{key}.json"
        if meta.is_file() and (cache / f"{key}.png").is_file():
            out[(tex, display)] = (key, *json.loads(meta.read_text(encoding="utf-8")))
        else:
            todo.append((tex, display, key))
    if todo:  # in processes: ziamath's configuration is global, and drawing is CPU-bound
        if jobs > 1 and len(todo) > 8:
            with worker_pool(jobs) as pool:
                drawn = list(pool.map(_draw_png, todo, chunksize=16))
        else:
            drawn = [_draw_png(item) for item in todo]
        for tex, display, key, png, dims in drawn:
            (cache / f"{key}.png").write_bytes(png)
            (cache / f"{key}.json").write_text(json.dumps(dims), encoding="utf-8")
            out[(tex, display)] = (key, *dims)
    images = {}
    for (tex, display), (key, w, h, y) in out.items():
        (folder / f"{key}.png").write_bytes((cache / f"{key}.png").read_bytes())
        images[(tex, display)] = (f"{folder.name}/{key}.png", w, h, y)
    return images


def _draw_png(item: tuple[str, bool, str]):
    from mlprep.markdown import math_png

    tex, display, key = item
    png, w, h, y = math_png(tex, display, 2 * READING_PX, 2 * SCREEN_PX)
    return tex, display, key, png, [w, h, y]


def with_math_images(ast, images: dict):
    """A copy of the AST with each Math node replaced by an image of it (alt text: its TeX)."""
    scale = 2 * READING_PX

    def image(tex: str, display: bool) -> dict:
        src, w, h, y = images[(tex, display)]
        if display:
            style = f"display:block;margin:0.4em auto;width:{w / scale:.3f}em;max-width:100%"
            classes = ["math", "display"]
        else:
            style = f"height:{h / scale:.3f}em;vertical-align:{y / scale:.3f}em"
            classes = ["math", "inline"]
        return {"t": "Image", "c": [["", classes, [["style", style]]], [{"t": "Str", "c": tex}], [src, ""]]}

    def walk(node):
        if isinstance(node, dict):
            if node.get("t") == "Math":
                return image(node["c"][1], node["c"][0]["t"] == "DisplayMath")
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node
    return {**ast, "blocks": walk(ast["blocks"])}


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


def titled(xhtml: str) -> str:
    """Give a split file the <title> of its first heading (pandoc names every part after the book), so
    an e-reader's history and search show "3.2 Attention Mechanism", not a file name."""
    m = re.search(r"<h[1-3][^>]*>(.*?)</h[1-3]>", xhtml, re.S)
    if not m:
        return xhtml
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())
    return re.sub(r"<title>.*?</title>", lambda _: f"<title>{html.escape(text)}</title>", xhtml, count=1, flags=re.S)


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
        "rights": lit(book.rights or f"© {', '.join(book.authors)}"),
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
                       "short": md(q.short, inline=True, base=base),
                       "a": md(q.a, prefix=f"ans--{t.id}--{q.id}--", base=base)} for q in t.questions],
        "pitfalls": [md(p, base=base) for p in t.pitfalls],
        "reading": t.further_reading,
    }


def cover(book: Book, path: Path, fonts: Path, focus: str = "") -> None:
    """A 1600x2400 cover drawn from the book's metadata at build time (no binary kept in the repo), set in
    the bundled DejaVu fonts. Text is measured, not guessed: the title takes the largest size at which
    its words fit the width without being split, and everything sits in the dark upper panel."""
    from PIL import Image, ImageDraw, ImageFont

    w, h, left, right = 1600, 2400, 130, 130
    panel = int(h * 0.68)  # the dark panel; the lower band carries authors and version only
    img = Image.new("RGB", (w, h), (16, 42, 67))
    d = ImageDraw.Draw(img)
    d.rectangle([0, panel, w, h], fill=(11, 92, 173))
    for i in range(12):  # a quiet network motif: nodes and edges, deterministic
        x0, y0 = 160 + i * 110, 200 + (i * 97) % 360
        x1, y1 = 160 + ((i + 5) % 12) * 110, 200 + (((i + 5) % 12) * 97) % 360
        d.line([x0, y0, x1, y1], fill=(70, 110, 150), width=4)
        d.ellipse([x0 - 14, y0 - 14, x0 + 14, y0 + 14], fill=(124, 183, 255))

    def face(size: int, bold: bool = False):
        name = "DejaVuSansCondensed-Bold.ttf" if bold else "DejaVuSansCondensed.ttf"
        return ImageFont.truetype(str(fonts / name), size)

    def lines(text: str, font, width: int) -> list[str]:
        """Greedy word wrap by measured width; never splits a word."""
        out: list[str] = []
        for word in text.split():
            trial = f"{out[-1]} {word}" if out else word
            if out and d.textlength(trial, font=font) <= width:
                out[-1] = trial
            else:
                out.append(word)
        return out

    width = w - left - right
    size = 170  # the title on one line, as large as fits down to 100 px; a longer title wraps by words
    while size > 100 and d.textlength(book.title, font=face(size, True)) > width:
        size -= 5
    while size > 60 and max(d.textlength(x, font=face(size, True)) for x in book.title.split()) > width:
        size -= 5
    title_font = face(size, True)
    title = [book.title] if d.textlength(book.title, font=title_font) <= width else lines(book.title, title_font, width)
    y = 720
    for line in title:
        d.text((left, y), line, font=title_font, fill=(255, 255, 255))
        y += int(size * 1.15)
    y += 50
    sub_size = 60
    while sub_size > 36 and y + len(lines(book.subtitle or "", face(sub_size), width)) * sub_size * 1.3 > panel - 260:
        sub_size -= 4
    for line in lines(book.subtitle or "", face(sub_size), width):
        d.text((left, y), line, font=face(sub_size), fill=(200, 220, 240))
        y += int(sub_size * 1.3)
    if focus:
        for line in lines(focus, face(70, True), width):
            d.text((left, min(y + 40, panel - 120)), line, font=face(70, True), fill=(255, 214, 102))
            y += 84
    d.text((left, panel + 130), ", ".join(book.authors), font=face(62, True), fill=(255, 255, 255))
    d.text((left, h - 210), f"Version {book.version}", font=face(48), fill=(220, 232, 245))
    img.save(path, format="PNG")
