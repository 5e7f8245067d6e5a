"""Builds are reproducible, incremental builds equal full ones, and the benchmark runs."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, run


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".cache" not in p.parts}


def test_two_builds_are_byte_identical(good, tmp_path):
    """Two clean builds of every format as a user runs them (default jobs), and a serial one, agree byte
    for byte: fonts subset, math drawn, archives dated from the content."""
    run("--content", str(good), "--out", str(tmp_path / "a"), "-q", "build", check=True)
    run("--content", str(good), "--out", str(tmp_path / "b"), "-q", "build", check=True)
    run("--content", str(good), "--out", str(tmp_path / "c"), "-q", "build", "--jobs", "1", check=True)
    a, b, c = digests(tmp_path / "a"), digests(tmp_path / "b"), digests(tmp_path / "c")
    assert {Path(k).parts[0] for k in a} == {"site", "anki", "epub", "pdf"}
    assert a == b == c


def test_a_build_prints_progress_not_library_noise(good, tmp_path):
    proc = run("--content", str(good), "--out", str(tmp_path / "o"), "build", check=True)
    lines = proc.stderr.strip().splitlines()
    assert lines and all(re.match(r"(loaded \d+ topics|(site|anki|epub|pdf): )", ln) for ln in lines), lines


def test_incremental_build_equals_forced_build(good, tmp_path):
    out = tmp_path / "inc"
    run("--content", str(good), "--out", str(out), "-q", "build", check=True)
    proc = run("--content", str(good), "--out", str(out), "build")
    assert proc.stderr.count("up to date") == 4, proc.stderr  # nothing changed: nothing rendered
    att = good / "01_Advanced" / "attention_intro.md"

    def edit_and_compare(old: str, new: str, name: str) -> str:
        att.write_text(att.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        proc = run("--content", str(good), "--out", str(out), "build", check=True)
        run("--content", str(good), "--out", str(tmp_path / name), "-q", "build", "--force", check=True)
        assert digests(out) == digests(tmp_path / name)
        return proc.stderr

    # a body edit re-renders that topic's page only; its neighbours' pages are reused
    log = edit_and_compare("The role of the scale factor", "Why the scale factor matters", "full1")
    assert re.search(r"site: \d+ pages \(\d+ rendered, 2 unchanged\)", log), log
    assert re.search(r"pdf: 4 PDFs \(0 rendered, [1-9] of \d+ question-book parts rendered; no sheet re-rendered", log), log
    # a title edit also re-renders the neighbours that show the title
    log = edit_and_compare("title: Attention Intro", "title: Attention, Introduced", "full2")
    assert re.search(r"site: \d+ pages \(\d+ rendered, 0 unchanged\)", log), log
    assert "Attention, Introduced" in (out / "site" / "topics" / "vectors_basics.html").read_text(encoding="utf-8")


def test_template_change_invalidates_format(tmp_path):
    import shutil

    from mlprep.build import format_key
    from mlprep.builders import Options

    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    opts = Options(templates=templates)
    before = {f: format_key(f, "content", opts) for f in ("site", "pdf")}
    css = templates / "site" / "assets" / "style.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n/* changed */\n", encoding="utf-8")
    assert format_key("site", "content", opts) != before["site"]
    assert format_key("pdf", "content", opts) == before["pdf"]  # other formats keep their cache


def test_benchmark_smoke(good, tmp_path):
    """The benchmark harness end to end, on the small fixture book (`make bench` runs it on the real one)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--sizes", "1,2", "--repeat", "1",
                           "--steps", "validate,site,anki", "--content", str(good), "--work", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| 1×"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert re.match(r"1× \(\d+\)", cells[0])
    assert all(re.match(r"\d+\.\d\d s / \d+ MiB", c) for c in cells[1:6]), row  # 3 steps + 2 peers
    assert re.match(r"\d+\.\d\d×", cells[6])
    assert (tmp_path / "results.md").read_text(encoding="utf-8").count("| 2× (") == 1  # both sizes measured


def test_site_is_built_last_and_offers_every_other_output(good, tmp_path):
    """The site links the EPUBs, PDFs and deck the same build wrote; rebuilding one of them refreshes the
    site's copies (the site's cache key includes them)."""
    out = tmp_path / "o"
    run("--content", str(good), "--out", str(out), "-q", "build", check=True)
    built = {p.name for fmt in ("epub", "pdf", "anki") for p in (out / fmt).iterdir() if p.suffix in (".epub", ".pdf", ".apkg")}
    assert len(built) >= 5 and {p.name for p in (out / "site" / "downloads").iterdir()} == built
    page = (out / "site" / "downloads.html").read_text(encoding="utf-8")
    assert all(f'href="downloads/{name}"' in page for name in built)
    run("--content", str(good), "--out", str(out), "-q", "build", "pdf", "--force", check=True)
    proc = run("--content", str(good), "--out", str(out), "build", check=True)
    assert "site: up to date" not in proc.stderr and "pdf: up to date" in proc.stderr
