"""The static study site: plain HTML files with relative links, so it works from file:// and a server."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from markupsafe import Markup

from mlprep.builders import Options
from mlprep.builders.common import KIND_LABEL, checklist_view, jinja, path_view, ref, role_view
from mlprep.cache import Keys, digest, tool_digest, tree_digest
from mlprep.markdown import parse, pygments_css, render
from mlprep.media import book_media, media_name
from mlprep.media import resolver as media_resolver
from mlprep.output import staged, worker_pool
from schemas.models import Book, Topic

NAME = "site"


def resolver(book: Book, root: str):
    def resolve(topic_id: str, anchor: str | None) -> str | None:
        if book.topic(topic_id) is None:
            return None
        return f"{root}topics/{topic_id}.html" + (f"#{anchor}" if anchor else "")
    return resolve


def md(book: Book, text: str, root: str, inline: bool = False, reserved: tuple[str, ...] = (),
       base: Path | None = None) -> Markup:
    """Render for the site; `base` is the folder the text's image paths are relative to."""
    media = media_resolver(base or book.root, book.root, lambda p: f"{root}assets/media/{media_name(p)}")
    return Markup(render(text, "site", resolver(book, root), inline=inline, reserved_ids=reserved, media=media))


DOWNLOADS = ("epub", "pdf", "anki")  # formats whose files the site offers, when they have been built


def nav_view(book: Book) -> list[dict]:
    """The sidebar: every section and every topic of the map, written or planned, with its number."""
    return [{"id": s.id, "number": s.number, "title": s.title, "written": len(s.topics), "total": len(s.order),
             "topics": [{"id": tid, "number": book.number_of(tid), "title": book.title_of(tid),
                         "written": book.topic(tid) is not None} for tid in s.order]} for s in book.sections]


def downloads(out: Path) -> list[dict]:
    """The files the other formats built, as the downloads page lists them (name, format, size)."""
    found = []
    for fmt in DOWNLOADS:
        folder = out.parent / fmt
        for f in sorted(folder.glob("*.*")) if folder.is_dir() else []:
            if f.suffix in (".epub", ".pdf", ".apkg") and f.is_file():
                size = f.stat().st_size
                found.append({"name": f.name, "format": fmt, "path": f, "size": size,
                              "size_text": f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{max(1, size // 1024)} KB"})
    return found


def build(book: Book, out: Path, options: Options) -> str:
    env = jinja(options.templates, "site")
    assets = options.templates / "site" / "assets"
    pages: dict[str, str | bytes] = {}
    cache = Keys(out.parent, "site-pages")
    if options.force:
        cache.forget()
    nav = nav_view(book)
    base = digest(tool_digest(), tree_digest(options.templates / "site", options.templates / "shared"),
                  book.title, book.version, book.language, book.description, book.rights, nav)
    rendered = 0

    def page(name: str, template: str, current_section: str | None = None, **ctx) -> None:
        nonlocal rendered
        root = "../" * name.count("/")
        ctx.setdefault("description", None)
        ctx.setdefault("toc", None)
        pages[name] = env.get_template(template).render(
            book=book, root=root, nav=with_current(nav, current_section, name), current_topic=None, **ctx)
        rendered += 1

    topics = book.topics()
    files = downloads(out)
    # home
    page("index.html", "index.html", page_title=None,
         overview=md(book, book.overview, ""), how_to_use=md(book, book.how_to_use, ""),
         counts={"written": len(topics), "planned": sum(len(s.planned) for s in book.sections),
                 "questions": sum(len(t.questions) for t in topics), "sections": len(book.sections)},
         sections=[{"id": s.id, "number": s.number, "title": s.title, "written": len(s.topics),
                    "planned": len(s.planned), "total": len(s.order)} for s in book.sections],
         paths=[path_view(book, p, lambda t: ref(book, t), lambda x: md(book, x, "", inline=True))
                for p in book.study_paths],
         roles=[role_view(book, r, lambda t: ref(book, t), lambda x: md(book, x, "", inline=True)) for r in book.roles],
         checklist=checklist_view(book, lambda t: ref(book, t), lambda x: md(book, x, "", inline=True)),
         files=files, start=next((t for t in topics), None))
    page("downloads.html", "downloads.html", page_title="Downloads", files=files)
    # sections
    for s in book.sections:
        page(f"sections/{s.id}.html", "section.html", current_section=s.id, page_title=s.title, section=s,
             overview=md(book, s.overview, "../", base=s.source.parent),
             items=[{**ref(book, t).__dict__, "number": book.number_of(t)} for t in s.order])
    # topics: the expensive pages, cached by everything they show, rendered in parallel when many changed
    stale = []
    for i, t in enumerate(topics):
        prev, nxt = (topics[i - 1] if i else None), (topics[i + 1] if i + 1 < len(topics) else None)
        name = f"topics/{t.id}.html"
        if cache.fresh(name, topic_key(book, t, prev, nxt, book.required_by(t.id), base)) and (out / name).is_file():
            pages[name] = (out / name).read_bytes()
        else:
            stale.append(i)
    _STATE.update(book=book, topics=topics, env=env, nav=nav)
    if options.jobs > 1 and len(stale) >= 16:
        chunks = [stale[k::options.jobs * 4] for k in range(options.jobs * 4)]
        with worker_pool(options.jobs) as pool:
            for part in pool.map(render_topics, chunks):
                pages.update(part)
    else:
        pages.update(render_topics(stale))
    rendered += len(stale)
    # tags and roles
    by_tag: dict[str, list[Topic]] = defaultdict(list)
    for t in topics:
        for tag in t.tags:
            by_tag[tag].append(t)
    for tag, items in by_tag.items():
        page(f"tags/{tag}.html", "listing.html", page_title=f"Tag: {tag}", kind="Tags", heading=f"Tag: {tag}",
             intro=None, role=None, list_heading="Topics", items=[ref(book, t.id) for t in items])
    page("tags/index.html", "index_of.html", page_title="Tags", heading="Tags", css="tag-cloud",
         entries=[{"href": f"{tag}.html", "label": tag, "count": len(by_tag[tag]), "note": None} for tag in sorted(by_tag)])
    for r in book.roles:
        items = [ref(book, t.id) for t in topics if r.id in t.roles]
        page(f"roles/{r.id}.html", "listing.html", page_title=r.title, kind="Roles", heading=r.title,
             intro=r.description, role=role_view(book, r, lambda t: ref(book, t), lambda x: md(book, x, "../", inline=True)),
             list_heading="Every topic for this role", items=items)
    page("roles/index.html", "index_of.html", page_title="Roles", heading="Roles", css="role-list",
         entries=[{"href": f"{r.id}.html", "label": r.title, "note": r.description,
                   "count": sum(r.id in t.roles for t in topics)} for r in book.roles])
    page("search.html", "search.html", page_title="Search")
    index = search_index(book, topics, out.parent)

    with staged(out) as tmp:
        for name, html in pages.items():
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(html, bytes):
                dest.write_bytes(html)
            else:
                dest.write_text(html, encoding="utf-8")
        for f in sorted(assets.rglob("*")):  # stylesheets, scripts, the search library and fonts with licences
            if f.is_file():
                dest = tmp / "assets" / f.relative_to(assets)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(f.read_bytes())
        for f in book_media(book):  # content images, by content hash (validated: inside content/)
            dest = tmp / "assets" / "media" / media_name(f)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.read_bytes())
        for f in files:  # the EPUBs, PDFs and deck this build produced, offered from the site
            dest = tmp / "downloads" / f["name"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(f["path"], dest)
        (tmp / "assets" / "pygments.css").write_text(
            pygments_css("default") + "\n@media (prefers-color-scheme: dark) {\n"
            + pygments_css("github-dark" if _has_style("github-dark") else "monokai") + "\n}\n", encoding="utf-8")
        (tmp / "assets" / "search-index.js").write_text(
            "window.MLPREP_SEARCH = " + json.dumps(index, ensure_ascii=False, separators=(",", ":")) + ";\n",
            encoding="utf-8")
    cache.save()
    return f"{len(pages)} pages ({rendered} rendered, {len(pages) - rendered} unchanged), {len(files)} downloads"


def with_current(nav: list[dict], section_id: str | None, page_name: str) -> list[dict]:
    """The sidebar for one page: its section open, the section overview marked when it is the page."""
    return [{**s, "current": s["id"] == section_id, "here": page_name == f"sections/{s['id']}.html"} for s in nav]


def link_or_copy(src: Path, dest: Path) -> None:
    """A hard link where the file system allows (no second copy of large files), else a copy."""
    import os
    import shutil

    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


_STATE: dict = {}  # inherited by forked workers


def render_topics(indexes: list[int]) -> dict[str, str]:
    """Render the topic pages at these reading-order positions (in a worker process when parallel)."""
    book, topics, env, nav = _STATE["book"], _STATE["topics"], _STATE["env"], _STATE["nav"]
    template = env.get_template("topic.html")
    out = {}
    for i in indexes:
        t = topics[i]
        prev, nxt = (topics[i - 1] if i else None), (topics[i + 1] if i + 1 < len(topics) else None)
        out[f"topics/{t.id}.html"] = template.render(
            book=book, root="../", nav=with_current(nav, t.section_id, ""), current_topic=t.id,
            **topic_context(book, t, prev, nxt, book.required_by(t.id)))
    return out


_LINK = re.compile(r"topic:([a-z0-9_]+)")


def topic_key(book: Book, t: Topic, prev, nxt, required_by: list[Topic], base: str) -> str:
    """Everything a topic page shows, as cheap facts: its own source, and the ids and titles of the
    pages it links to or lists (a renamed neighbour changes this page too)."""
    texts = [t.body, t.summary, *t.pitfalls, *(q.q + q.a for q in t.questions)]
    refs = sorted(set(t.prerequisites) | {m for text in texts for m in _LINK.findall(text)})
    section = book.section_of(t.id)
    return digest(base, t.digest, section.id, section.title,
                  [(r, book.role(r).title if book.role(r) else None) for r in t.roles],
                  [(x, book.topic(x) is not None, book.title_of(x)) for x in refs],
                  [(r.id, r.title) for r in required_by],
                  prev and (prev.id, prev.title), nxt and (nxt.id, nxt.title))


def _has_style(name: str) -> bool:
    from pygments.styles import get_all_styles

    return name in set(get_all_styles())


def short_label(question: str, limit: int = 64) -> str:
    """A question as an "on this page" entry: plain text (math as its TeX), cut at a word near `limit`."""
    from mlprep.builders.search_index import searchable

    text = searchable(question)
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def topic_context(book: Book, t: Topic, prev, nxt, required_by: list[Topic]) -> dict:
    root = "../"
    qids = tuple(q.id for q in t.questions)
    base = t.source.parent
    doc_headings = parse(t.body, qids).headings
    toc = [{"level": lvl, "id": slug, "text": text} for lvl, text, slug in doc_headings if lvl in (2, 3)]
    if t.questions:
        toc.append({"level": 2, "id": "interview-questions", "text": f"Interview questions ({len(t.questions)})"})
        toc += [{"level": 3, "id": q.id, "text": short_label(q.q)} for q in t.questions]
    if t.pitfalls:
        toc.append({"level": 2, "id": "common-pitfalls", "text": "Common pitfalls"})
    if t.further_reading:
        toc.append({"level": 2, "id": "further-reading", "text": "Further reading"})
    return dict(
        page_title=t.title, description=t.summary, topic=t, section=book.section_of(t.id),
        number=book.number_of(t.id), toc=toc,
        kind_label=KIND_LABEL[t.kind], summary=md(book, t.summary, root, inline=True, base=base),
        roles=[book.role(r) for r in t.roles if book.role(r)],
        prerequisites=[ref(book, p) for p in t.prerequisites],
        required_by=[ref(book, r.id) for r in required_by],
        body=md(book, t.body, root, reserved=qids, base=base),
        questions=[{"id": q.id, "level": q.level.value, "q": md(book, q.q, root, inline=True, base=base),
                    "short": md(book, q.short, root, inline=True, base=base),
                    "a": md(book, q.a, root, base=base)} for q in t.questions],
        pitfalls=[md(book, p, root, base=base) for p in t.pitfalls],
        prev=prev, next=nxt,
    )


def search_index(book: Book, topics: list[Topic], cache_root: Path) -> dict:
    """The prebuilt search index: a document per topic, per heading and per interview question. A topic's
    documents are reused from the last build while it is unchanged (the indexing is the slow part)."""
    from mlprep.builders.search_index import build_index, searchable, snippet

    path = cache_root / ".cache" / "site-search.json"
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    new, docs = {}, []
    for t in topics:
        section = book.section_of(t.id)
        number = book.number_of(t.id)
        key = digest("search-2", t.digest, number, section.title)
        entries = old.get(key)
        if entries is None:
            url = f"topics/{t.id}.html"
            body = searchable(t.body)
            entries = [{"id": t.id, "title": t.title, "url": url, "kind": "topic", "where": f"{number} · {section.title}",
                        "text": " ".join([t.summary, body, *(searchable(p) for p in t.pitfalls), " ".join(t.tags)]),
                        "snippet": snippet(searchable(t.summary))}]
            for lvl, text, slug in parse(t.body, tuple(q.id for q in t.questions)).headings:
                if lvl in (2, 3):
                    entries.append({"id": f"{t.id}#{slug}", "title": text, "url": f"{url}#{slug}", "kind": "section",
                                    "where": f"{number} {t.title}", "text": "", "snippet": ""})
            for q in t.questions:
                answer = searchable(q.a)
                entries.append({"id": f"{t.id}#{q.id}", "title": searchable(q.q), "url": f"{url}#{q.id}",
                                "kind": "question", "where": f"{number} {t.title} · {q.level.value}",
                                "text": searchable(q.short) + " " + answer, "snippet": snippet(searchable(q.short))})
        new[key] = entries
        docs += entries
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(new, ensure_ascii=False), encoding="utf-8")
    return build_index(docs)
