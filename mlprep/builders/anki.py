"""Anki deck: one note per interview question, identity for life, updates in place on re-import.

Identity: note GUIDs come from `topic_id#question_id` (genanki.guid_for), the note type and decks have
fixed ids. Updates: Anki replaces an existing note on import only if the incoming modification time is
newer, so notes carry the time the content last changed (git history of content/, else newest file
mtime) — never the wall clock, never a constant.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sqlite3
import zipfile
from pathlib import Path

import genanki

from mlprep.builders import BuildError, Options, selected_topics
from mlprep.builders.common import content_time
from mlprep.errors import Problem
from mlprep.markdown import pygments_css, render
from mlprep.media import book_media, media_name
from mlprep.media import resolver as media_resolver
from mlprep.output import staged
from schemas.models import Book, Topic

NAME = "anki"
DECK_FILE = "ml-interview-prep.apkg"
KEEP = ("ml-interview-prep--*.apkg",)
MODEL_ID = 1735021917  # fixed for life: changing it would orphan every learner's notes
ROOT_DECK_ID = 1735021918
# Fields since 0.2 (they were Question, Answer, Topic, Section, Level, Source, Link; the note type keeps its
# id, so a re-import merges it and updates every note in place, review history kept).
# The note type's fields never change: Anki updates notes in place only while their note type keeps its
# fields (a changed schema makes an import skip every existing note, see the Anki manual's "Packaged Decks"),
# so the short answer, the full answer and its code are parts of the Answer field, not fields of their own.
FIELDS = ["Question", "Answer", "Topic", "Section", "Level", "Source", "Link"]
CLOZE_MODEL_ID = 1735021919  # the Formulas deck's cloze note type, fixed for life too


def deck_id(name: str) -> int:
    """A fixed id per deck name, so sub-decks keep their identity across builds."""
    return ROOT_DECK_ID + 1 + int(hashlib.sha256(name.encode()).hexdigest()[:7], 16)


def note_model(templates: Path) -> genanki.Model:
    css = (templates / "anki" / "card.css").read_text(encoding="utf-8")
    css += "\n" + pygments_css("default", ".highlight")
    css += "\n" + pygments_css("monokai", ".nightMode .highlight") + "\n" + pygments_css("monokai", ".night_mode .highlight")
    return genanki.Model(
        MODEL_ID, "mlprep interview question",
        fields=[{"name": f} for f in FIELDS],
        templates=[{"name": "Question → Answer",
                    "qfmt": (templates / "anki" / "front.html").read_text(encoding="utf-8"),
                    "afmt": (templates / "anki" / "back.html").read_text(encoding="utf-8")}],
        css=css, sort_field_index=5,
    )


def cloze_model(templates: Path) -> genanki.Model:
    css = (templates / "anki" / "card.css").read_text(encoding="utf-8")
    return genanki.Model(
        CLOZE_MODEL_ID, "mlprep formula cloze", model_type=genanki.Model.CLOZE,
        fields=[{"name": f} for f in ("Text", "Extra", "Topic", "Link")],
        templates=[{"name": "Cloze",
                    "qfmt": (templates / "anki" / "cloze-front.html").read_text(encoding="utf-8"),
                    "afmt": (templates / "anki" / "cloze-back.html").read_text(encoding="utf-8")}],
        css=css,
    )


def tags_for(book: Book, t: Topic, level: str) -> list[str]:
    tags = [f"mlprep::section::{t.section_id}", f"mlprep::topic::{t.id}", f"mlprep::level::{level}"]
    tags += [f"mlprep::role::{r}" for r in t.roles]
    tags += list(t.tags)
    return sorted(set(tags))


def build(book: Book, out: Path, options: Options) -> str:
    model, clozes = note_model(options.templates), cloze_model(options.templates)
    root_name = book.title
    decks: dict[str, genanki.Deck] = {}
    manifest: dict[str, dict] = {}

    def resolve(topic_id: str, anchor: str | None) -> str | None:
        if book.topic(topic_id) is None or not book.site_url:
            return None  # no site to point to: the link text stays, without a dead link
        return book.site_url.rstrip("/") + f"/topics/{topic_id}.html" + (f"#{anchor}" if anchor else "")

    topics = selected_topics(book, options)
    for t in topics:
        section = book.section_of(t.id)
        name = f"{root_name}::{section.number:02d} {section.title}"
        deck = decks.setdefault(name, genanki.Deck(deck_id(name), name))
        media = media_resolver(t.source.parent, book.root, media_name)  # Anki keeps media flat, by name
        where = topic_line(book, t)
        for q in t.questions:
            source = f"{t.id}#{q.id}"
            link = f"{book.site_url.rstrip('/')}/topics/{t.id}.html#{q.id}" if book.site_url else ""
            back, extra = split_extra(render(q.a, "anki", resolve, media=media))
            fields = [render(q.q, "anki", resolve, inline=True, media=media),
                      answer_field(render(q.short, "anki", resolve, inline=True, media=media), back, extra),
                      f"{_esc(where)} · {q.level.value.capitalize()}", _esc(section.title), q.level.value, source,
                      _esc(link)]
            deck.add_note(genanki.Note(model=model, fields=fields, guid=genanki.guid_for(t.id, q.id),
                                       tags=tags_for(book, t, q.level.value)))
            manifest[source] = {"guid": genanki.guid_for(t.id, q.id), "file": str(t.source.relative_to(book.root))}
        for c in t.cloze:  # a cheat sheet's formulas and numbers to memorise, in the Formulas deck
            name = f"{root_name}::Formulas"
            deck = decks.setdefault(name, genanki.Deck(deck_id(name), name))
            link = f"{book.site_url.rstrip('/')}/topics/{t.id}.html" if book.site_url else ""
            deck.add_note(genanki.Note(model=clozes, guid=genanki.guid_for(t.id, "cloze", c.id),
                                       fields=[render(c.text, "anki", resolve, inline=True, media=media), "",
                                               _esc(where), _esc(link)],
                                       tags=tags_for(book, t, "cloze") + ["mlprep::formulas"]))
            manifest[f"{t.id}#cloze-{c.id}"] = {"guid": genanki.guid_for(t.id, "cloze", c.id),
                                                 "file": str(t.source.relative_to(book.root))}
    if not decks:
        raise BuildError("no written question to put in a deck" + (f" for {options.focus}" if options.focus else ""))
    decks.setdefault(root_name, genanki.Deck(ROOT_DECK_ID, root_name))
    package = genanki.Package(sorted(decks.values(), key=lambda d: d.name))
    package.media_files = book_media(book, topics)  # validated: regular files inside content/
    stamp = content_time(book)
    filename = DECK_FILE if not options.focus else f"ml-interview-prep--{options.focus}.apkg"
    with staged(out, full=not options.focus, keep=KEEP) as tmp:
        write_apkg(package, tmp / filename, stamp)
        if not options.focus:
            (tmp / "manifest.json").write_text(json.dumps({"notes": manifest}, indent=1, sort_keys=True) + "\n",
                                               encoding="utf-8")
    n = sum(len(d.notes) for d in decks.values())
    return f"{n} notes in {len(decks) - 1} decks ({filename})"


def write_apkg(package: genanki.Package, path: Path, stamp: int) -> None:
    """Like genanki's write_to_file, but reproducible: fixed timestamps inside the zip."""
    db = path.parent / f".{path.name}.anki2"  # inside the staging folder: a killed build leaves nothing behind
    try:
        conn = sqlite3.connect(db)
        package.write_to_db(conn.cursor(), stamp, itertools.count(stamp * 1000))
        conn.commit()
        conn.execute("VACUUM")
        conn.close()
        date = (1980, 1, 1, 0, 0, 0)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(zipfile.ZipInfo("collection.anki2", date), Path(db).read_bytes(), zipfile.ZIP_DEFLATED)
            names = {str(i): media_name(Path(p)) for i, p in enumerate(package.media_files)}
            z.writestr(zipfile.ZipInfo("media", date), json.dumps(names, sort_keys=True), zipfile.ZIP_DEFLATED)
            for i, p in enumerate(package.media_files):
                z.writestr(zipfile.ZipInfo(str(i), date), Path(p).read_bytes(), zipfile.ZIP_DEFLATED)
    finally:
        db.unlink(missing_ok=True)


def topic_line(book: Book, t: Topic) -> str:
    """How a card names its topic: number, title and section, as the book prints them (never a slug)."""
    section = book.section_of(t.id)
    return f"{book.number_of(t.id)} {t.title} — {section.title}"


_CODE_BLOCK = re.compile(r'<div class="code">.*?</pre></div>\s*</div>\n?', re.S)  # as markdown._render_fence writes it


def split_extra(answer_html: str) -> tuple[str, str]:
    """(prose, code): the answer's prose, and its code blocks, which the card shows below it in smaller type."""
    blocks = _CODE_BLOCK.findall(answer_html)
    return _CODE_BLOCK.sub("", answer_html).strip(), "".join(blocks).strip()


def answer_field(short: str, back: str, extra: str) -> str:
    """Minimum information first: the short answer in bold, then the full answer (its code in smaller type)
    folded under it, open by default and collapsible."""
    code = f'<div class="extra-code">{extra}</div>' if extra else ""
    return (f'<div class="short">{short}</div>\n<details class="extra" open><summary>Full answer</summary>'
            f'<div class="answer">{back}</div>{code}</details>')


def _esc(text: str) -> str:
    """Plain text for an Anki field (fields are HTML): quotes too, since a field may land in an attribute."""
    import html

    return html.escape(text, quote=True)


def manifest_warnings(book: Book, manifest: Path) -> list[str]:
    """Warn about question ids present in the last build's deck but gone now: learners would lose them."""
    if not manifest.exists():
        return []
    try:
        notes = json.loads(manifest.read_text(encoding="utf-8")).get("notes", {})
    except (OSError, ValueError):
        return [f"{manifest}: warning: unreadable manifest; rebuild the deck"]
    current = {f"{t.id}#{q.id}" for t in book.topics() for q in t.questions}
    out = []
    for source, info in sorted(notes.items()):
        if source not in current:
            where = f"content/{info.get('file', '')}" if info.get("file") else "content"
            topic_id = source.split("#")[0]
            why = "its topic is gone or renamed" if book.topic(topic_id) is None else "the question id changed or was removed"
            out.append(str(Problem(where, 0, "questions", f"question {source} was in the last deck build but not now "
                                   f"({why}); learners who re-import lose its review history", warning=True)))
    return out
