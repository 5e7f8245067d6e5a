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


def test_examples_share_no_state_report_exit_codes_and_time_out(good):
    """Examples are forked from one warm interpreter: what one changes must not reach the next, and exit
    codes, tracebacks and the time limit must behave as with `python example.py`."""
    vec = good / "00_Basics" / "vectors_basics.md"
    blocks = ["import numpy as np, os, tempfile\nnp.ones = None\n"
              "assert tempfile.gettempdir() == os.getcwd() == os.environ['HOME']\nprint('own folder')",
              "import numpy as np\nassert np.ones(2).sum() == 2, 'the previous example leaked'",
              "import sys\nsys.exit(3)",
              "def f():\n    raise KeyError('deep')\n\nf()",
              "while True:\n    pass"]
    fences = "".join(f"```python\n{b}\n```\n\n" for b in blocks)
    text = vec.read_text(encoding="utf-8")
    vec.write_text(text.replace("## Precise statement", fences + "## Precise statement", 1), encoding="utf-8")
    proc = run("--content", ".", "check-examples", "--jobs", "1", "--timeout", "3", cwd=good)
    assert proc.returncode == 1
    assert re.search(r"^\d+ passed, 3 failed, 0 skipped", proc.stdout, re.M), proc.stdout + proc.stderr
    assert "example failed (exit code 3)" in proc.stderr
    assert "timed out after 3s" in proc.stderr
    assert 'File "example.py", line 2, in f' in proc.stderr and "KeyError: 'deep'" in proc.stderr
    assert "leaked" not in proc.stderr and "own folder" not in proc.stderr
