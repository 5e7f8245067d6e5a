"""Hostile content: nothing in content/ may run script, reach a file outside content/, make a network request
or exhaust the machine. One test per class of attack, each on the real outputs, with a sibling or two."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import MLPREP, REPO, run

VEC = "00_Basics/vectors_basics.md"
ATT = "01_Advanced/attention_intro.md"
SHEET = "01_Advanced/traps_sheet.md"


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def validate(root: Path) -> subprocess.CompletedProcess:
    return run("--content", ".", "validate", cwd=root)


def assert_placed(proc: subprocess.CompletedProcess, rel: str, pattern: str) -> None:
    """Exit 1, a `path:line: field: message` line matching `pattern`, and no traceback."""
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert re.search(rf"^{re.escape(rel)}:\d+: {pattern}", proc.stderr, re.M), proc.stderr


def built_markup(out: Path) -> dict[str, str]:
    """Every HTML/XHTML page of the site and the EPUB, and every Anki note field, by name."""
    texts = {str(p): p.read_text(encoding="utf-8") for p in (out / "site").rglob("*.html")}
    for epub in (out / "epub").glob("*.epub"):
        with zipfile.ZipFile(epub) as z:
            texts.update({f"{epub.name}:{n}": z.read(n).decode("utf-8") for n in z.namelist()
                          if n.endswith((".xhtml", ".opf", ".ncx"))})
    for apkg in (out / "anki").glob("*.apkg"):
        texts.update({f"{apkg.name}:{i}": f for i, f in enumerate(anki_fields(apkg))})
    return texts


def anki_fields(apkg: Path) -> list[str]:
    with zipfile.ZipFile(apkg) as z:
        db = apkg.parent / "col.sqlite"
        db.write_bytes(z.read("collection.anki2"))
    try:
        con = sqlite3.connect(db)
        return [f for (flds,) in con.execute("select flds from notes") for f in flds.split("\x1f")]
    finally:
        con.close()
        db.unlink()


OUR_SCRIPTS = re.compile(r'<script src="(\.\./)*assets/(vendor/)?[a-z-]+\.js"></script>|'
                         r"<script>document\.documentElement\.classList\.add\('js'\);</script>")


def live_markup(text: str) -> list[str]:
    """What in this HTML could run: script-like elements, event-handler attributes, javascript: URLs
    (the site's own scripts excepted). Parsed, so escaped text inside attributes is not a false alarm."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Scan(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "iframe", "object", "embed", "base", "meta") and not (
                    tag == "script" and (dict(attrs).get("type") or "").startswith("math/tex")) and not (
                    tag == "meta" and "http-equiv" not in dict(attrs)):
                found.append(f"<{tag}>")
            for k, v in attrs:
                if k.startswith("on") or (v or "").strip().lower().startswith(("javascript:", "vbscript:")):
                    found.append(f"<{tag} {k}={v!r}>")

    Scan().feed(OUR_SCRIPTS.sub("", text))
    return found


# --- 1. CSS: text that reaches <style> cannot close it; WeasyPrint reads nothing outside ---------

def test_sheet_and_role_titles_cannot_attach_local_files_to_pdfs(good, tmp_path):
    from pypdf import PdfReader

    payload = 'TCS</style><link rel=attachment href="file:///etc/passwd"><style>x{}'
    edit(good, SHEET, "title: Traps Sheet", f"title: '{payload}'")
    edit(good, SHEET, "summary: A fixture cheat sheet.", "summary: 'S\\\"; content: url(file:///etc/hostname); x: \"'")
    edit(good, "book.yaml", "title: AI Engineer", f"title: 'AI {payload}'")
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "build", "pdf", check=True)
    pdfs = sorted((out / "pdf").glob("*.pdf"))
    assert {p.name for p in pdfs} >= {"traps_sheet.pdf", "all-cheat-sheets.pdf", "questions-ai-engineer.pdf"}
    for pdf in pdfs:
        reader = PdfReader(pdf)
        assert reader.attachments == {}, pdf.name
        assert b"/EmbeddedFile" not in pdf.read_bytes(), pdf.name
    header = PdfReader(out / "pdf" / "traps_sheet.pdf").pages[0].extract_text()
    assert "</style><link" in header  # the title is shown, as text


def test_pdf_fetcher_refuses_files_outside_and_the_network(good):
    """Defence in depth: even markup that asks for them gets no local file and makes no request."""
    from mlprep.builders import BuildError, Options
    from mlprep.builders.pdf import Renderer
    from mlprep.loader import load_book

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        book, _ = load_book(good)
        r = Renderer(book, Options())
        url = f"http://127.0.0.1:{server.server_address[1]}/x.png"
        for html in (f'<img src="{url}">', '<link rel="attachment" href="file:///etc/passwd"><p>x</p>',
                     '<style>@import url("file:///etc/hostname");</style><p>x</p>'):
            with pytest.raises(BuildError, match="refused to read"):
                r.document(html)
    finally:
        server.shutdown()
    assert hits == []


# --- 2. Math cannot carry script or links into the site, the EPUB or the deck ------------------

SCRIPT_MATH = r"$\text{<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>}$"


def test_script_in_math_is_text_everywhere(good, tmp_path, browser):
    edit(good, VEC, "A vector is an arrow", f"{SCRIPT_MATH} A vector is an arrow")
    edit(good, VEC, "It measures alignment", f"{SCRIPT_MATH} It measures alignment")
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "build", "site", "epub", "anki", check=True)
    texts = built_markup(out)
    assert any("window.__pwned" in t for t in texts.values())  # the text is there ...
    for name, text in texts.items():
        assert live_markup(text) == [], name  # ... never as markup
    page = browser.new_page()
    page.goto((out / "site" / "topics" / "vectors_basics.html").as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelector('mtext').textContent").startswith("<script>")
    page.close()


@pytest.mark.parametrize("tex", [r"\href{javascript:alert(1)}{x}", r"\url{javascript:alert(1)}",
                                 r"\style{color:red}{x}", r"\class{x}{y}", r"\unicode{x41}"])
def test_tex_that_would_carry_links_or_styles_is_refused(good, tex):
    edit(good, ATT, "Quadratic, $O(n^2 d)$", f"Quadratic, ${tex}$")
    assert_placed(validate(good), ATT, r"questions\[1\]\.a: math .* is not allowed")


def test_malformed_math_is_a_validation_error_and_odd_math_prints(good, tmp_path):
    edit(good, ATT, "Quadratic, $O(n^2 d)$", r"Quadratic, $\frac{1}$")
    assert_placed(validate(good), ATT, r"questions\[1\]\.a: math .*\\frac needs 2 parts")
    edit(good, ATT, r"Quadratic, $\frac{1}$", r"Quadratic, $O(n^2 d)$")
    edit(good, SHEET, "Scores are", r"Odd but valid: $\text{<b>}$, $&$ and $a < b$. Scores are")
    run("--content", str(good), "--out", str(tmp_path / "o"), "build", "pdf", check=True)


# --- 3. Images resolve inside content/ only -------------------------------------------------

@pytest.mark.parametrize("src,message", [
    ("../../../../../../etc/passwd", "is outside content/"),
    ("/etc/hostname", "is not a relative path inside content/"),
    ("http://127.0.0.1:9/x.png", "is not a relative path inside content/"),
    ("data:image/png;base64,iVBORw0KGgo=", "is not a relative path inside content/"),
    ("../", "does not exist or is not a regular file"),
    ("../../x.png", "is outside content/"),
    (".", "does not exist or is not a regular file"),
])
def test_images_outside_content_are_placed_errors(good, src, message):
    edit(good, VEC, "A vector is an arrow", f"![a]({src}) A vector is an arrow")
    assert_placed(validate(good), VEC, rf"image: {re.escape(src)} {re.escape(message)}")


def test_image_symlinked_out_of_content_is_refused(good, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret")
    (good / "00_Basics" / "pic.png").symlink_to(secret)
    edit(good, VEC, "A vector is an arrow", "![a](pic.png) A vector is an arrow")
    assert_placed(validate(good), VEC, r"image: pic\.png is outside content/")


def test_image_inside_content_is_packed_everywhere(good, tmp_path):
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8"
                        "ffff3f0005fe02fe0dc7a1a20000000049454e44ae426082")
    (good / "00_Basics" / "dot.png").write_bytes(png)
    edit(good, VEC, "It measures alignment", "![a dot](dot.png) It measures alignment")
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "-q", "build", check=True)
    media = list((out / "site" / "assets" / "media").iterdir())
    assert [p.read_bytes() for p in media] == [png]
    with zipfile.ZipFile(out / "anki" / "ml-interview-prep.apkg") as z:
        names = json.loads(z.read("media"))
        assert [z.read(k) for k in names] == [png]
    with zipfile.ZipFile(out / "epub" / "ml-interview-prep.epub") as z:
        assert png in [z.read(n) for n in z.namelist() if n.endswith(".png") and "cover" not in n]


# --- 4. YAML: no alias bombs, no runaway nesting --------------------------------------------

BOMB = "".join(f'{c}: &{c} [{", ".join([("*" + p) if p else "lol"] * 9)}]\n'
               for c, p in zip("abcdefghi", ["", *"abcdefgh"]))


@pytest.mark.parametrize("where", ["front matter", "section.yaml", "book.yaml"])
def test_yaml_alias_bomb_is_refused_quickly(good, where):
    if where == "front matter":
        rel = VEC
        edit(good, VEC, "tags: [linear-algebra, vectors]\n", "tags: [linear-algebra, vectors]\n" + BOMB)
    else:
        rel = "00_Basics/section.yaml" if where == "section.yaml" else "book.yaml"
        (good / rel).write_text((good / rel).read_text(encoding="utf-8") + BOMB, encoding="utf-8")
    t0 = time.perf_counter()
    proc = run_limited(["--content", ".", "validate"], memory=1 << 30, cwd=good)
    assert time.perf_counter() - t0 < 20
    assert_placed(proc, rel, "YAML anchors and aliases")


def test_deep_yaml_nesting_is_an_error_not_a_crash(good):
    deep = "tags: " + "[" * 900 + "x" + "]" * 900 + "\n"
    edit(good, VEC, "tags: [linear-algebra, vectors]\n", deep)
    proc = validate(good)
    assert_placed(proc, VEC, "YAML nested deeper than")


def run_limited(args: list[str], memory: int, cwd: Path) -> subprocess.CompletedProcess:
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory * 4, memory * 4))  # address space; data stays well below
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*MLPREP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=limit)


# --- 5. Examples run isolated ----------------------------------------------------------------

def test_examples_run_isolated(good, tmp_path):
    marker = tmp_path / "left-running"
    code = f"""```python
import os, subprocess, sys
assert "MLPREP_TEST_SECRET" not in os.environ, "the environment leaked"
assert not os.getcwd().startswith({str(good)!r})
open("scratch.txt", "w").write("stays in the example's own folder")
subprocess.Popen([sys.executable, "-c", "import time, pathlib; time.sleep(3); pathlib.Path({str(marker)!r}).write_text('x')"])
print("ok")
```

```python
import numpy as np
a = np.ones((40000, 40000))  # 12.8 GB: over the memory limit
print(a.sum())
```
"""
    edit(good, VEC, "## Precise statement", code + "\n## Precise statement")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLPREP_TEST_SECRET": "hunter2"}
    proc = subprocess.run([*MLPREP, "--content", ".", "check-examples"], cwd=good, env=env, capture_output=True,
                          text=True, timeout=300)
    assert re.search(r"^\d+ passed, 1 failed", proc.stdout, re.M), proc.stdout + proc.stderr
    assert "MemoryError" in proc.stderr or "Unable to allocate" in proc.stderr, proc.stderr
    assert "hunter2" not in proc.stdout + proc.stderr
    assert not list(good.rglob("scratch.txt"))
    time.sleep(4)
    assert not marker.exists()  # the example's background process was killed with its session


# --- 6. Only regular files inside content/ are read -----------------------------------------

def test_symlink_to_a_device_a_fifo_and_an_outside_file_are_placed_errors(good, tmp_path):
    (good / "00_Basics" / "zero.md").symlink_to("/dev/zero")
    os.mkfifo(good / "00_Basics" / "fifo.md")
    outside = tmp_path / "outside.md"
    outside.write_text((good / VEC).read_text(encoding="utf-8"), encoding="utf-8")
    (good / "00_Basics" / "linked.md").symlink_to(outside)
    proc = run_limited(["--content", ".", "validate"], memory=1 << 30, cwd=good)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "00_Basics/zero.md: is a symbolic link to a file outside content/" in proc.stderr
    assert "00_Basics/fifo.md: is not a regular file" in proc.stderr
    assert "00_Basics/linked.md: is a symbolic link to a file outside content/" in proc.stderr


# --- 7. book.yaml metadata is literal; URLs are strict ----------------------------------------

def test_book_metadata_is_literal_text_in_the_epub(good, tmp_path):
    edit(good, "book.yaml", "title: Fixture Book", 'title: "Fixture <b onmouseover=alert(1)>Bold</b> *Book*"')
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "build", "epub", check=True)
    with zipfile.ZipFile(out / "epub" / "ml-interview-prep.epub") as z:
        texts = {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xhtml", ".opf", ".ncx"))}
    assert any("&lt;b onmouseover=alert(1)&gt;Bold&lt;/b&gt; *Book*" in t for t in texts.values()), texts.keys()
    for name, text in texts.items():
        assert "<b onmouseover" not in text and "<em>Book</em>" not in text, name


@pytest.mark.parametrize("url", ['"https://x.example/"onmouseover=alert(1)', "javascript:alert(1)",
                                 "https://x.example/a b", "https://x.example/<script>"])
def test_site_url_must_be_a_plain_http_url(good, url):
    edit(good, "book.yaml", "site_url: null", f"site_url: {json.dumps(url)}")
    assert_placed(validate(good), "book.yaml", "site_url: must be an http")


# --- 8. Section ids are unique ---------------------------------------------------------------

def test_two_sections_with_one_id_are_an_error(good):
    shutil.copytree(good / "01_Advanced", good / "02_advanced")
    for f in (good / "02_advanced").glob("*.md"):
        f.rename(f.with_name("copy_" + f.name))
    proc = validate(good)
    assert proc.returncode == 1
    assert "02_advanced: section id 'advanced' is already used by" in proc.stderr, proc.stderr


# --- 9. Anki dates the text it read ----------------------------------------------------------

def test_anki_time_comes_from_the_text_that_was_read(good):
    from mlprep.builders.common import content_time
    from mlprep.loader import load_book

    env = os.environ.pop("SOURCE_DATE_EPOCH", None)
    try:
        for f in good.rglob("*"):
            if f.is_file():
                os.utime(f, (1_700_000_000, 1_700_000_000))
        book, _ = load_book(good)
        (good / VEC).write_text((good / VEC).read_text(encoding="utf-8") + "\nEdited during the build.\n",
                                encoding="utf-8")  # an edit after loading, before the deck is stamped
        assert content_time(book) == 1_700_000_000  # the time of the text that was read, not of the edit
        assert content_time(load_book(good)[0]) > 1_700_000_000  # the next build carries a newer time
    finally:
        if env is not None:
            os.environ["SOURCE_DATE_EPOCH"] = env


# --- 10. Control characters ------------------------------------------------------------------

@pytest.mark.parametrize("char", ["\x1f", "\x00", "\x0b", "\x85"])
def test_control_characters_are_refused_with_their_place(good, char):
    edit(good, VEC, "It measures alignment", f"It measures{char} alignment")
    line = next(i for i, ln in enumerate((good / VEC).read_text(encoding="utf-8").split("\n"), 1) if char in ln)
    proc = validate(good)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{VEC}:{line}: control character U+{ord(char):04X}" in proc.stderr, proc.stderr


# --- 12. serve keeps serving whatever a rebuild raises -------------------------------------

def test_serve_survives_a_failing_rebuild(good, tmp_path):
    import urllib.request

    out = tmp_path / "out"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*MLPREP, "--content", str(good), "--out", str(out), "serve", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).status == 200)
        shutil.rmtree(out / "site" / "tags")
        (out / "site" / "tags").write_text("a file where the builder needs a folder")  # the rebuild will fail
        edit(good, VEC, "A vector is an arrow", "A vector, edited, is an arrow")
        time.sleep(4)
        assert proc.poll() is None  # still running
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert "rebuild failed" in err and "Traceback" not in err, err


# --- 13. One-line errors, no leftovers, no orphans, readable output ---------------------------

def test_port_in_use_is_one_line(good, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run("--content", str(good), "--out", str(tmp_path / "o"), "serve", "--port", str(port))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_unwritable_output_is_one_line(good, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run("--content", str(good), "--out", str(blocker / "out"), "build", "site", "anki")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "Not a directory" in proc.stderr


def test_new_topic_name_with_a_trailing_newline_is_refused(good):
    proc = run("--content", str(good), "new", "topic", "00_Basics", "fine_name\n")
    assert proc.returncode == 2 and "snake_case" in proc.stderr
    assert not list((good / "00_Basics").glob("fine_name*"))


def test_leftovers_of_a_killed_build_are_cleaned_and_output_is_world_readable(good, tmp_path):
    out = tmp_path / "out"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [out / f".site.tmp-{dead.pid}-abc", out / f".epub.work-{dead.pid}-xyz"]
    for d in stale:
        d.mkdir(parents=True)
        (d / "junk.html").write_text("x")
    old = os.umask(0o022)
    try:
        run("--content", str(good), "--out", str(out), "-q", "build", "site", "epub", check=True)
    finally:
        os.umask(old)
    assert not any(d.exists() for d in stale)
    assert not list(out.glob(".*.tmp-*")) and not list(out.glob(".*.work-*"))
    assert (out / "site").stat().st_mode & 0o777 == 0o755


def test_workers_die_with_a_killed_build(good, tmp_path):
    out = tmp_path / "marker-out-dir"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*MLPREP, "--content", str(good), "--out", str(out), "build", "--jobs", "2", "--force"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: len(processes_with(str(out))) >= 3, timeout=60)  # the build and its workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    wait_for(lambda: processes_with(str(out)) == [], timeout=20)


def processes_with(marker: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker in (d / "cmdline").read_bytes().decode(errors="replace") and \
                        "Z" not in (d / "stat").read_text().split(") ")[-1][:2]:
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


# --- YAML errors point where the mistake starts ---------------------------------------------

def test_unclosed_quote_is_reported_where_it_opens(good):
    edit(good, VEC, "title: Vectors Basics", 'title: "Vectors Basics')
    proc = validate(good)
    assert_placed(proc, VEC, r"YAML syntax error: a quoted string starting here is never closed \(the parser "
                             r"stopped at line \d+, column \d+\)")
    assert re.search(rf"^{re.escape(VEC)}:2: ", proc.stderr, re.M), proc.stderr


# --- helpers ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def test_math_the_plugin_would_not_take_is_reported(good):
    edit(good, VEC, "A vector is an arrow", "Shapes are $(n, d)$1 per row. A vector is an arrow")
    assert_placed(validate(good), VEC, r"math \$\(n, d\)\$ is not recognised as math")
