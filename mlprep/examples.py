"""Run every ```python block of the content in a fresh interpreter, in parallel, with a time limit."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlprep.markdown import parse
from schemas.models import Book

# Optional heavy libraries: an example importing one that is missing is skipped and counted.
OPTIONAL = ("torch",)


@dataclass
class Example:
    where: str  # path:line of the opening fence
    code: str

    def needs(self) -> list[str]:
        return [m for m in OPTIONAL if re.search(rf"^\s*(import|from)\s+{m}\b", self.code, re.M)]


@dataclass
class Failure:
    example: Example
    reason: str
    tail: str


@dataclass
class Result:
    passed: list[Example] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Example] = field(default_factory=list)
    skip_reasons: set[str] = field(default_factory=set)


def collect(book: Book, base: Path) -> list[Example]:
    """Runnable blocks from bodies and answers, each with the source line of its fence."""
    out = []
    for t in book.topics():
        try:
            rel = t.source.resolve().relative_to(base.resolve())
        except ValueError:
            rel = t.source
        texts = [(t.body, t.body_line)]
        texts += [(q.a, t.lines.get(f"questions.{i}.a:value", 1)) for i, q in enumerate(t.questions)]
        for text, first in texts:
            for code in parse(text).code:
                if code.runs:
                    out.append(Example(f"{rel}:{first + code.line}", code.code))
    return out


def run_one(ex: Example, timeout: float) -> Failure | None:
    with tempfile.TemporaryDirectory(prefix="mlprep-example-") as tmp:
        script = Path(tmp) / "example.py"
        script.write_text(ex.code, encoding="utf-8")
        env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            proc = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Failure(ex, f"timed out after {timeout:.0f}s", "")
    if proc.returncode != 0:
        tail = "\n".join("    " + ln for ln in proc.stderr.strip().splitlines()[-6:])
        return Failure(ex, f"exit code {proc.returncode}", tail)
    return None


def run_all(examples: list[Example], jobs: int, timeout: float, log: Callable[[str], None]) -> Result:
    result = Result()
    runnable = []
    for ex in examples:
        missing = [m for m in ex.needs() if importlib.util.find_spec(m) is None]
        if missing:
            result.skipped.append(ex)
            result.skip_reasons.update(missing)
        else:
            runnable.append(ex)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (ex, failure) in enumerate(zip(runnable, pool.map(lambda e: run_one(e, timeout), runnable)), 1):
            (result.failures.append(failure) if failure else result.passed.append(ex))
            if i % 10 == 0 or i == len(runnable):
                log(f"examples: {i}/{len(runnable)} run ({time.perf_counter() - t0:.1f}s)")
    return result
