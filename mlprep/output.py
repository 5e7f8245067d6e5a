"""Write outputs so that a failed build never damages the last good one.

A builder writes into a fresh temporary folder beside the target; only when it returns without error
are the files moved into place (and, for a full build, files it no longer produces removed). Temporary
folders carry the pid of the process that made them, so one left by a killed build is removed by the next.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scratch_dir(parent: Path, name: str, kind: str = "tmp") -> Path:
    """A new folder `.<name>.<kind>-<pid>-XXXX` in `parent`, readable as the umask allows (mkdtemp's 0700
    would make a published site unreadable to a web server running as another user), after removing
    any such folder whose process is gone."""
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob(f".{name}.{kind}-*"):
        pid = old.name[len(f".{name}.{kind}-"):].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.{kind}-{os.getpid()}-", dir=parent)).resolve()
    umask = os.umask(0o022)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


@contextmanager
def scratch(parent: Path, name: str) -> Iterator[Path]:
    """A working folder for one build step, removed afterwards (and by the next build if killed)."""
    tmp = scratch_dir(parent, name, "work")
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def worker_pool(jobs: int):
    """A forked process pool whose workers die with their parent (a killed build leaves no orphans)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers then exit when their queue breaks
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


@contextmanager
def staged(target: Path, *, full: bool = True, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temp folder; on success commit it to `target`, on error delete it and re-raise."""
    tmp = scratch_dir(target.parent, target.name)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        commit(tmp, target, full=full, keep=keep)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commit(src: Path, target: Path, *, full: bool, keep: tuple[str, ...]) -> None:
    produced = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    if not target.exists() and full:
        os.replace(src, target)
        src.mkdir()  # so the caller's cleanup has something to remove
        return
    for rel in sorted(produced):
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        new = src / rel
        if dest.exists() and _same(new, dest):
            continue  # unchanged: keep the old file and its mtime
        os.replace(new, dest)
    if full:
        for old in sorted(target.rglob("*"), reverse=True):
            rel = old.relative_to(target)
            if old.is_file() and rel not in produced and not any(fnmatch.fnmatch(rel.name, k) for k in keep):
                old.unlink()
            elif old.is_dir() and not any(old.iterdir()):
                old.rmdir()


def _same(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return a.read_bytes() == b.read_bytes()
