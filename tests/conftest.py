"""Shared fixtures: small fixture books under tests/roots/, copied to a temp dir per test."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = Path(__file__).resolve().parent / "roots"
CONTENT = REPO / "content"
MLPREP = [sys.executable, "-m", "mlprep.cli"]


@functools.cache
def real_book():
    """The real content's Book, loaded once per session (read-only in every test)."""
    from mlprep.loader import load_book

    return load_book(CONTENT)[0]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A writable copy of the good fixture book."""
    dest = tmp_path / "book"
    shutil.copytree(ROOTS / "good", dest)
    return dest


def run(*args: str, cwd: Path | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run the real CLI in a fresh interpreter (so exit codes and stderr are exactly what a user sees)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*MLPREP, *args], cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"mlprep {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def real_build(tmp_path_factory) -> Path:
    """Every output of the real content, built once per session by one `mlprep build` (as `make` does) and
    shared read-only by the site, EPUB, PDF and Anki tests. MLPREP_REAL_BUILD=DIR reuses a build of the
    current content already in DIR (for iterating on one test; CI never sets it)."""
    if os.environ.get("MLPREP_REAL_BUILD"):
        return Path(os.environ["MLPREP_REAL_BUILD"])
    out = tmp_path_factory.mktemp("real")
    run("--content", str(CONTENT), "--out", str(out), "-q", "build", check=True)
    return out


@pytest.fixture(scope="session")
def real_site(real_build) -> Path:
    return real_build / "site"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser), shared by the session."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()
