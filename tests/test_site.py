"""The static site: every internal link and anchor resolves, search works offline, in real Chromium."""
from __future__ import annotations

import functools
import json
import re
import threading
from collections import Counter
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import real_book, run

XSS = "<script>alert('x')</script>"


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key):
                self.refs.append(a[key])
        if tag == "script":
            self.scripts.append(a.get("src") or "inline")


def crawl(site: Path) -> list[str]:
    """Return every broken internal link or anchor as 'page -> href'."""
    pages = {p: Page() for p in site.rglob("*.html")}
    for p, parser in pages.items():
        parser.feed(p.read_text(encoding="utf-8"))
    broken = []
    for p, parser in pages.items():
        for ref in parser.refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith("//"):
                continue  # external: kept as links, never fetched by the site itself
            target = (p.parent / unquote(parts.path)).resolve() if parts.path else p
            if not target.exists():
                broken.append(f"{p.relative_to(site)} -> {ref}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in pages[target].ids:
                broken.append(f"{p.relative_to(site)} -> {ref} (missing anchor)")
    return broken


def test_real_site_has_no_broken_internal_link_or_anchor(real_site):
    assert (real_site / "index.html").exists()
    assert crawl(real_site) == []


def test_search_index_holds_every_written_topic(real_site):
    book = real_book()
    text = (real_site / "assets" / "search-index.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("=") + 1:].rstrip().rstrip(";"))
    assert {d["id"] for d in index} == {t.id for t in book.topics()}
    for d in index:
        assert (real_site / d["url"]).exists()
        assert len(d["text"].split()) > 200


def test_planned_topics_are_shown_but_not_linked(real_site):
    book = real_book()
    section = next((s for s in book.sections if s.planned), None)
    if section is None:
        pytest.skip("every topic of the book is written")
    html = (real_site / "sections" / f"{section.id}.html").read_text(encoding="utf-8")
    assert "(planned)" in html and f"topics/{section.planned[0]}.html" not in html


def test_no_external_resource_is_referenced(real_site):
    for p in real_site.rglob("*"):
        if p.suffix in (".html", ".css", ".js"):
            text = p.read_text(encoding="utf-8")
            assert not re.search(r"""(src|href)=["']https?://(?!)""", text) or p.suffix == ".html"
            assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["'](https?:)?//""", text), p
            assert "@import" not in text and "url(http" not in text, p


def test_script_in_every_field_is_escaped(good, tmp_path):
    vec = good / "00_Basics" / "vectors_basics.md"
    text = vec.read_text(encoding="utf-8")
    text = text.replace("title: Vectors Basics", f'title: "Vectors {XSS}"')
    text = text.replace("summary: What a vector", f"summary: >-\n  {XSS} What a vector")
    text = text.replace("q: What does the dot product", f"q: >-\n      {XSS} What does the dot product")
    text = text.replace("It measures alignment", f"{XSS} It measures alignment")
    text = text.replace("**Forgetting to normalise.**", f"**Forgetting to normalise.** {XSS}")
    text = text.replace('authors: "Deisenroth, Faisal, Ong"', f'authors: "{XSS}"')
    text = text.replace("A vector is an arrow", f"{XSS} A vector is an arrow")
    vec.write_text(text, encoding="utf-8")
    sec = good / "00_Basics" / "section.yaml"
    sec.write_text(sec.read_text(encoding="utf-8").replace("Basic material.", f"{XSS} Basic material."), encoding="utf-8")
    book = good / "book.yaml"
    book.write_text(book.read_text(encoding="utf-8").replace("Can derive attention.", f"Can derive {XSS}"), encoding="utf-8")
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "build", "site", check=True)
    seen = 0
    for p in (out / "site").rglob("*.html"):
        html = p.read_text(encoding="utf-8")
        assert "<script>alert" not in html, p
        seen += html.count("&lt;script&gt;alert(")
        scripts = Page()
        scripts.feed(html)
        assert all(s.startswith(("../assets/", "assets/")) or s == "inline" for s in scripts.scripts), scripts.scripts
    assert seen >= 8  # the text is shown, escaped, wherever it was written


def test_fixture_site_pages(good, tmp_path):
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "build", "site", check=True)
    site = out / "site"
    assert crawl(site) == []
    topic = (site / "topics" / "attention_intro.html").read_text(encoding="utf-8")
    assert "Required by" in topic and 'href="traps_sheet.html"' in topic  # backlink from the cheat sheet
    assert 'rel="prev" href="vectors_basics.html"' in topic and 'rel="next" href="traps_sheet.html"' in topic
    assert '<details><summary>Show answer</summary>' in topic
    assert (site / "tags" / "attention.html").exists() and (site / "roles" / "ai-engineer.html").exists()
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Quick path" in home and "Planned topic" in home and 'data-key="technical-1"' in home


# --- in headless Chromium -------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(real_site):
    handler = functools.partial(type("Q", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
                                directory=str(real_site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def unique_word(real_site: Path) -> tuple[str, dict]:
    """A distinctive word that appears in exactly one topic's indexed text."""
    text = (real_site / "assets" / "search-index.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("=") + 1:].rstrip().rstrip(";"))
    counts = Counter(w for d in index for w in set(re.findall(r"[a-z]{9,}", d["text"].lower())))
    for d in index:
        words = sorted(w for w in set(re.findall(r"[a-z]{9,}", d["text"].lower())) if counts[w] == 1)
        if words:
            return words[0], d
    raise AssertionError("no unique word")


def test_home_loads_without_errors_or_outside_requests(browser, server):
    page = browser.new_page()
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
    page.goto(server + "/index.html")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text() == "ML Interview Prep"
    assert page.locator("main#main").count() == 1 and page.locator("nav[aria-label=Main]").count() == 1
    assert errors == [] and outside == []
    page.close()


def test_search_finds_a_topic_and_opens_it(browser, server, real_site):
    word, doc = unique_word(real_site)
    page = browser.new_page()
    page.goto(server + "/index.html")
    page.fill("#q", word)
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"search\.html\?q="))
    first = page.locator("#search-results li a").first
    first.wait_for()
    assert first.inner_text() == doc["title"]
    first.click()
    page.wait_for_url(re.compile(re.escape(doc["url"]) + "$"))
    assert page.locator("h1").inner_text() == doc["title"]
    page.close()


def test_search_works_from_file_url(browser, real_site):
    word, doc = unique_word(real_site)
    page = browser.new_page()
    page.goto((real_site / "search.html").as_uri() + f"?q={word}")
    link = page.locator("#search-results li a").first
    link.wait_for()
    assert link.inner_text() == doc["title"]
    page.close()


def test_answers_hidden_until_revealed_and_checklist_persists(browser, server):
    page = browser.new_page()
    page.goto(server + "/topics/linear_algebra_for_ml.html")
    answer = page.locator(".question .a").first
    assert not answer.is_visible()
    page.locator(".question summary").first.click()
    assert answer.is_visible()
    page.goto(server + "/index.html")
    box = page.locator(".checklist input[type=checkbox]").first
    box.check()
    page.reload()
    assert page.locator(".checklist input[type=checkbox]").first.is_checked()
    page.close()


def test_keyboard_reaches_search(browser, server):
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(server + "/topics/probability_and_statistics.html")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q"
    page.close()


def test_bundled_fonts_load_from_file_url(browser, real_site):
    """Text and code use the site's own fonts, so layout does not depend on what the machine has."""
    page = browser.new_page()
    page.goto((real_site / "topics" / "probability_and_statistics.html").as_uri())
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert {'Inter', '"Inter"'} & set(loaded) and {'JetBrains Mono', '"JetBrains Mono"'} & set(loaded), loaded
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Inter"') or \
        page.evaluate("getComputedStyle(document.body).fontFamily").startswith("Inter")
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_scrolls_sideways_on_a_phone(browser, real_site, scheme):
    """Every page fits a 375 px screen: wide tables, code and formulas scroll inside their own box."""
    page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme=scheme)
    wide = []
    for f in sorted(real_site.rglob("*.html")):
        page.goto(f.as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 375:
            wide.append(f"{f.relative_to(real_site)}: {width}px")
    page.close()
    assert wide == []


def _contrast(a: str, b: str) -> float:
    def lum(h: str) -> float:
        c = [int(h.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_colour_contrast_meets_wcag_aa_in_light_and_dark_mode(real_site):
    css = (real_site / "assets" / "style.css").read_text(encoding="utf-8")
    blocks = re.findall(r":root\s*\{([^}]*)\}", css)
    assert len(blocks) >= 2  # light, then dark (inside prefers-color-scheme: dark)
    for block in blocks[:2]:
        v = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", block))
        pairs = [("fg", "bg"), ("muted", "bg"), ("accent", "bg"), ("accent-visited", "bg"), ("muted", "soft"),
                 ("fg", "code-bg"), ("found", "badge"), ("inter", "badge"), ("adv", "badge"), ("bg", "accent")]
        for a, b in pairs:
            assert _contrast(v[a], v[b]) >= 4.5, (a, b, v[a], v[b], round(_contrast(v[a], v[b]), 2))


def test_heading_levels_never_skip(real_site):
    for page in real_site.rglob("*.html"):
        levels = [int(n) for n in re.findall(r"<h([1-6])[ >]", page.read_text(encoding="utf-8"))]
        assert levels.count(1) == 1, page
        assert all(b <= a + 1 for a, b in zip([0, *levels], levels)), (page, levels)
