"""Run every ```python block of the content in its own process, in parallel, with a time limit.

Each example runs in a process forked from a warm interpreter that has already imported the libraries the
examples use (numpy, scipy, pandas, scikit-learn, torch), so an example costs its own run, not a second of
imports; the isolation is the same as a fresh interpreter's (see `_SERVER`)."""
from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import resource
import shutil
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


def _rlimits(timeout: float) -> list[tuple[str, tuple[int, int]]]:
    """An example's bounds on memory, CPU time, file size and core dumps, as (resource name, (soft, hard))."""
    cpu = int(timeout) + 1
    return [("RLIMIT_DATA", (MEMORY_LIMIT, MEMORY_LIMIT)), ("RLIMIT_CPU", (cpu, cpu + 1)),
            ("RLIMIT_FSIZE", (FILE_LIMIT, FILE_LIMIT)), ("RLIMIT_CORE", (0, 0))]


def _limits(timeout: float):
    """Runs in the child before exec: applies `_rlimits`."""
    def apply() -> None:
        for name, value in _rlimits(timeout):
            resource.setrlimit(getattr(resource, name), value)
    return apply


def _env(tmp: str) -> dict[str, str]:
    """The whole environment an example sees: no inherited variables, so no tokens or secrets."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}


def run_one(ex: Example, timeout: float, server: "Server | None" = None) -> Failure | None:
    """Run one example in isolation (see the README's Security section for what this does not stop): in
    a new, empty temporary folder that is also its HOME and TMPDIR; a minimal environment; its own
    session, whose every process is killed at the end; limits on memory, CPU time and file size. Forked
    from `server` when one is given, else in a fresh interpreter."""
    with tempfile.TemporaryDirectory(prefix="mlprep-example-") as tmp:
        script = Path(tmp) / "example.py"
        script.write_text(ex.code, encoding="utf-8")
        out = Path(tmp) / ".output"
        out.touch()
        status = server.run(tmp, timeout) if server else _fresh(tmp, timeout)
        stderr = out.read_text(encoding="utf-8", errors="replace")
    if status is None:
        return Failure(ex, f"timed out after {timeout:.0f}s", "")
    if status != 0:
        reason = (f"killed by signal {-status}" + (" (CPU time limit)" if -status == signal.SIGXCPU else "")
                  if status < 0 else f"exit code {status}")
        tail = "\n".join("    " + ln for ln in stderr.strip().splitlines()[-6:])
        return Failure(ex, reason, tail)
    return None


def _fresh(tmp: str, timeout: float) -> int | None:
    """Run `tmp`/example.py in a new interpreter; its exit status, or None if it timed out."""
    with open(Path(tmp) / ".output", "w", encoding="utf-8") as log:  # a file, not a pipe: leftovers can't hold us open
        proc = subprocess.Popen([sys.executable, "example.py"], cwd=tmp, env=_env(tmp), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                                preexec_fn=_limits(timeout))
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the example's whole session: whatever it left running
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                proc.wait()
    return proc.returncode


# The warm interpreter: imports the libraries once, then per request (a JSON line naming the example's
# folder and time limit) forks a child that runs the example as `python example.py` would, waits for it
# (killing its whole session at the end or on timeout) and answers with its exit status.
_SERVER = r"""
import json, os, signal, sys, time
for name in sys.argv[1:]:
    try:
        __import__(name)
    except Exception:
        pass
requests, replies = os.fdopen(os.dup(0), "r"), os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0); os.dup2(null, 1)
replies.write("ready\n"); replies.flush()


def child(req):
    import resource, runpy, traceback
    os.close(requests.fileno()); os.close(replies.fileno())
    os.setsid()
    os.chdir(req["dir"])
    os.environ.clear(); os.environ.update(req["env"])
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # TMPDIR is read again: the example's own folder
    for limit, value in req["limits"]:
        resource.setrlimit(getattr(resource, limit), tuple(value))
    log = os.open(".output", os.O_WRONLY | os.O_TRUNC)
    os.dup2(log, 2)
    sys.argv = ["example.py"]
    code = 0
    try:
        runpy.run_path("example.py", run_name="__main__")
    except SystemExit as e:  # as the interpreter does: None is 0, an int is the status, anything else is printed
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException as e:  # the traceback from the example's own frames, as `python example.py` prints it
        tb = e.__traceback__
        while tb and tb.tb_frame.f_code.co_filename != "example.py":
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb or e.__traceback__)
        code = 1
    try:
        import atexit
        atexit._run_exitfuncs()
        sys.stdout.flush(); sys.stderr.flush()
    finally:
        os._exit(code)


for line in requests:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(req)
    deadline, status = time.monotonic() + req["timeout"], None
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
        elif time.monotonic() > deadline:
            break
        else:
            time.sleep(0.005)
    try:
        os.killpg(pid, signal.SIGKILL)  # the example's whole session: whatever it left running
    except ProcessLookupError:
        pass
    if status is None:
        os.waitpid(pid, 0)
    replies.write(json.dumps({"status": status}) + "\n"); replies.flush()
"""

PRELOAD = ("numpy", "scipy", "pandas", "sklearn", "torch")  # what the examples import most


class Server:
    """One warm interpreter (see `_SERVER`), started with the examples' minimal environment."""

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="mlprep-examples-")
        preload = [m for m in PRELOAD if importlib.util.find_spec(m) is not None]
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVER, *preload], cwd=self.home, env=_env(self.home),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise OSError("the example server did not start")

    def run(self, tmp: str, timeout: float) -> int | None:
        request = {"dir": tmp, "env": _env(tmp), "timeout": timeout, "limits": _rlimits(timeout)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise OSError("the example server stopped")
        return json.loads(reply)["status"]

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        shutil.rmtree(self.home, ignore_errors=True)


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
    servers: queue.Queue = queue.Queue()

    def one(ex: Example) -> Failure | None:
        try:
            server = servers.get_nowait()
        except queue.Empty:
            try:
                server = Server()
            except OSError:
                return run_one(ex, timeout)  # no warm interpreter here: a fresh one per example
        try:
            failure = run_one(ex, timeout, server)
        except OSError:  # the server died (e.g. killed from outside): this example runs fresh, the next gets a new one
            server.close()
            return run_one(ex, timeout)
        servers.put(server)
        return failure

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (ex, failure) in enumerate(zip(runnable, pool.map(one, runnable)), 1):
            (result.failures.append(failure) if failure else result.passed.append(ex))
            if i % 10 == 0 or i == len(runnable):
                log(f"examples: {i}/{len(runnable)} run ({time.perf_counter() - t0:.1f}s)")
    while not servers.empty():
        servers.get().close()
    return result
