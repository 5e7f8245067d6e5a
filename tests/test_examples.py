"""Every runnable example in content/ runs; failures are reported as path:line."""
from __future__ import annotations

import re

from conftest import run


def test_check_examples_passes_on_all_content():
    proc = run("check-examples")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"^(\d+) passed, 0 failed, (\d+) skipped", proc.stdout, re.M)
    assert m and int(m.group(1)) >= 16, proc.stdout
    if int(m.group(2)):
        assert "(need torch)" in proc.stdout  # skipped by count and reason, never silently


def test_failing_example_is_reported_with_its_line(good):
    att = good / "01_Advanced" / "attention_intro.md"
    att.write_text(att.read_text(encoding="utf-8").replace("assert np.allclose(w.sum(axis=1), 1.0)",
                                                           "assert np.allclose(w.sum(axis=1), 2.0)"), encoding="utf-8")
    line = next(i for i, ln in enumerate(att.read_text(encoding="utf-8").split("\n"), 1) if ln == "```python")
    proc = run("--content", ".", "check-examples", cwd=good)
    assert proc.returncode == 1
    assert f"01_Advanced/attention_intro.md:{line}: example failed (exit code 1)" in proc.stderr, proc.stderr
    assert "AssertionError" in proc.stderr
    assert re.search(r"^2 passed, 1 failed, 0 skipped", proc.stdout, re.M), proc.stdout


def test_example_in_an_answer_runs_from_its_line(good):
    vec = good / "00_Basics" / "vectors_basics.md"
    vec.write_text(vec.read_text(encoding="utf-8").replace("print(a @ b / (", "print(undefined_name / ("), encoding="utf-8")
    lines = vec.read_text(encoding="utf-8").split("\n")
    line = next(i for i, ln in enumerate(lines, 1) if ln.strip() == "```python")
    proc = run("--content", ".", "check-examples", cwd=good)
    assert f"00_Basics/vectors_basics.md:{line}: example failed" in proc.stderr, proc.stderr
    assert "NameError" in proc.stderr
