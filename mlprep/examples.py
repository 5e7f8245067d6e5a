"""Run every ```python block of the content in a fresh interpreter, in parallel, with a time limit."""
from __future__ import annotations

import importlib.util
import os
import re
import resource
import signal
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


MEMORY_LIMIT = 4 << 30  # bytes of data segment per example (numpy, pandas and CPU torch need far less)
FILE_LIMIT = 64 << 20  # largest file an example may write


def _limits(cpu_seconds: int):
    """Runs in the child before exec: bound its memory, CPU time, file size and core dumps."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run_one(ex: Example, timeout: float) -> Failure | None:
    """Run one example in isolation (see the README's Security section for what this does not stop):
    a fresh interpreter in a new, empty temporary folder that is also its HOME and TMPDIR; a minimal
    environment (no inherited variables, so no secrets); its own session, whose every process is killed
    at the end; limits on memory, CPU time and file size."""
    with tempfile.TemporaryDirectory(prefix="mlprep-example-") as tmp:
        script = Path(tmp) / "example.py"
        script.write_text(ex.code, encoding="utf-8")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
        out = Path(tmp) / ".output"
        with open(out, "w+", encoding="utf-8") as log:  # a file, not a pipe: leftovers can't hold us open
            proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                                    preexec_fn=_limits(int(timeout) + 1))
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return Failure(ex, f"timed out after {timeout:.0f}s", "")
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the example's whole session: whatever it left running
                except ProcessLookupError:
                    pass
                if proc.poll() is None:
                    proc.wait()
            log.seek(0)
            stderr = log.read()
    if proc.returncode != 0:
        reason = (f"killed by signal {-proc.returncode}" + (" (CPU time limit)" if -proc.returncode == signal.SIGXCPU else "")
                  if proc.returncode < 0 else f"exit code {proc.returncode}")
        tail = "\n".join("    " + ln for ln in stderr.strip().splitlines()[-6:])
        return Failure(ex, reason, tail)
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
