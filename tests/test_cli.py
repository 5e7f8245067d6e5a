"""The command line: exit codes, the last good build survives a failed one, scaffolds, schema, stats."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import CONTENT, REPO, run


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_exit_codes(good, tmp_path):
    assert run("--content", str(good), "--out", str(tmp_path), "validate").returncode == 0
    assert run("--content", str(good), "--out", str(tmp_path), "build", "nonsense").returncode == 2
    assert run("--content", str(good), "--out", str(tmp_path), "build", "--role", "x", "--path", "y").returncode == 2
    assert run("--content", str(good), "--out", str(tmp_path), "build", "anki", "--role", "nobody").returncode == 2
    assert run("--content", str(good), "--out", str(tmp_path), "build", "site", "--role", "ai-engineer").returncode == 2
    assert run("no-such-command").returncode == 2
    (good / "00_Basics" / "vectors_basics.md").write_text("", encoding="utf-8")
    proc = run("--content", str(good), "--out", str(tmp_path), "validate")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_failed_build_leaves_previous_site_byte_for_byte(good, tmp_path):
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "build", "site", check=True)
    before = tree_digest(out / "site")
    assert len(before) > 10
    vec = good / "00_Basics" / "vectors_basics.md"
    vec.write_text(vec.read_text(encoding="utf-8").replace("level: junior", "level: guru"), encoding="utf-8")
    proc = run("--content", str(good), "--out", str(out), "build", "site")
    assert proc.returncode == 1 and "level" in proc.stderr and "Traceback" not in proc.stderr
    assert tree_digest(out / "site") == before
    assert sorted(p.name for p in out.iterdir()) == [".cache", "site"]  # no temp folder left behind


def test_help_everywhere():
    for args in ([], ["build"], ["validate"], ["stats"], ["serve"], ["new", "topic"], ["check-examples"], ["clean"]):
        proc = run(*args, "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout, args


def test_quiet_prints_nothing_on_success(good, tmp_path):
    proc = run("--content", str(good), "--out", str(tmp_path), "-q", "build", "site")
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""


def test_new_topic_scaffold_validates_once_filled_in(good, tmp_path):
    proc = run("--content", str(good), "--out", str(tmp_path), "new", "topic", "00_Basics", "matrix_rank")
    assert proc.returncode == 0, proc.stderr
    path = good / "00_Basics" / "matrix_rank.md"
    assert "  - matrix_rank" in (good / "00_Basics" / "section.yaml").read_text(encoding="utf-8")
    proc = run("--content", str(good), "--out", str(tmp_path), "validate")
    assert proc.returncode == 1 and "00_Basics/matrix_rank.md" in proc.stderr  # empty scaffold falls short
    # fill it in the way an author would: questions, pitfalls, reading, a link and a runnable example
    text = path.read_text(encoding="utf-8")
    text = text.replace("questions: []", """questions:
  - {id: define-rank, q: What is rank?, short: The number of independent columns., a: The number of linearly independent columns of a matrix., level: junior}
  - {id: rank-deficient, q: What breaks when X is rank deficient?, short: The least-squares solution is no longer unique., a: The normal equations have no unique solution., level: mid}""")
    text = text.replace("pitfalls: []", 'pitfalls: ["Trusting a nearly singular matrix: check its condition number."]')
    text = text.replace("further_reading: []", 'further_reading: [{title: MML, url: "https://mml-book.github.io/"}]')
    text = text.replace("## Intuition\n", "## Intuition\n\nRank counts independent directions, which [vectors](topic:vectors_basics) span; "
                        "a rank-deficient design matrix makes least squares ill-posed and regularisation necessary.\n")
    text = text.replace("# A runnable, seeded example that prints or asserts a meaningful result.",
                        "import numpy as np\nprint(np.linalg.matrix_rank(np.ones((3, 3))))")
    path.write_text(text, encoding="utf-8")
    proc = run("--content", str(good), "--out", str(tmp_path), "validate")
    assert proc.returncode == 0, proc.stderr
    assert run("--content", str(good), "new", "topic", "00_Basics", "matrix_rank").returncode == 2
    assert run("--content", str(good), "new", "topic", "99_Nope", "x_y").returncode == 2


def test_json_schema_is_current():
    proc = run("schema", "--check")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads((REPO / "schemas" / "topic.schema.json").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False and "questions" in schema["properties"]


def test_stats_shows_foundations_meeting_the_guide():
    proc = run("stats")
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("00_Foundations"))
    written, planned = line.split()[1:3]
    folder = CONTENT / "00_Foundations"
    assert (int(written), int(planned)) == (len(list(folder.glob("*.md"))), 0)
    assert line.split()[-1] == "0"  # no topic short of the guide
    assert "Every written topic meets the guide's minimums." in proc.stdout


def test_clean(good, tmp_path):
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "build", "site", check=True)
    assert run("--content", str(good), "--out", str(out), "clean").returncode == 0
    assert not out.exists()


def test_serve_rebuilds_when_content_changes(good, tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "mlprep.cli", "--content", str(good), "--out", str(out), "-q",
                             "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/topics/vectors_basics.html"

    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode("utf-8")

    def wait_for(predicate, seconds: float = 30) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if predicate():
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    try:
        assert wait_for(lambda: "Vectors Basics" in fetch())
        vec = good / "00_Basics" / "vectors_basics.md"
        vec.write_text(vec.read_text(encoding="utf-8").replace("title: Vectors Basics", "title: Vectors Revisited"),
                       encoding="utf-8")
        assert wait_for(lambda: "Vectors Revisited" in fetch())
        vec.write_text(vec.read_text(encoding="utf-8").replace("level: junior", "level: wizard"), encoding="utf-8")
        time.sleep(2)
        assert "Vectors Revisited" in fetch()  # bad content: the last good site is still served
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "level" in err.decode() and "still serving the last good build" in err.decode()
    assert "Traceback" not in err.decode()
