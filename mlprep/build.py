"""Run the requested formats: skip those whose inputs are unchanged, run the rest in parallel processes.

Load once, render many: the book is loaded in this process and the format workers are forked from it,
so no builder reads content/ again.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from mlprep.builders import BuildError, Options, formats
from mlprep.cache import Keys, digest, tool_digest, tree_digest
from mlprep.output import worker_pool

_STATE: dict = {}  # what forked workers inherit: the loaded book and the options
SLOWEST_FIRST = ("pdf", "epub", "site", "anki")  # started first, so they run while the quick ones finish


def format_key(name: str, content_digest: str, options: Options) -> str:
    templates = options.templates
    return digest(name, tool_digest(), content_digest, tree_digest(templates / name, templates / "shared"),
                  options.role, options.path, options.paper if name == "pdf" else None)


def downloads_digest(out: Path) -> str:
    """What the site's downloads page shows (the other formats' files), by name, size and time."""
    from mlprep.builders.site import downloads

    return digest([(f["name"], f["size"], f["path"].stat().st_mtime_ns) for f in downloads(out / "site")])


def slot(name: str, options: Options) -> str:
    return f"{name}:{options.focus}" if options.focus else name


def run_build(c, names: list[str], options: Options) -> list[tuple[str, str]]:
    """Build `names`; return (format, message) for each that failed. The site goes last, once the other
    formats are written, because it offers their files for download (its key includes them)."""
    keys = Keys(c.out, "formats")
    if options.force:
        keys.forget()
    content_digest = tree_digest(c.content)
    failures: list[tuple[str, str]] = []
    for phase in ([n for n in names if n != "site"], [n for n in names if n == "site"]):
        extra = downloads_digest(c.out) if phase == ["site"] else ""
        stale = []
        for name in phase:
            key = digest(format_key(name, content_digest, options), extra)
            if keys.fresh(slot(name, options), key) and (c.out / name).exists():
                c.log(f"{name}: up to date")
            else:
                stale.append(name)
        if stale:
            failures += _build_stale(c, stale, options, keys)
    return failures


def _build_stale(c, stale: list[str], options: Options, keys: Keys) -> list[tuple[str, str]]:
    book = c.load()
    if options.role and not book.role(options.role):
        raise click.BadParameter(f"unknown role {options.role!r}; known: {', '.join(r.id for r in book.roles)}",
                                 param_hint="--role")
    if options.path and not book.path(options.path):
        raise click.BadParameter(f"unknown study path {options.path!r}; known: "
                                 f"{', '.join(p.id for p in book.study_paths)}", param_hint="--path")
    _STATE.update(book=book, out=c.out, options=options)
    results: dict[str, tuple[bool, str, float]] = {}
    if len(stale) > 1 and options.jobs > 1:
        with worker_pool(min(options.jobs, len(stale))) as pool:
            order = sorted(stale, key=lambda n: SLOWEST_FIRST.index(n) if n in SLOWEST_FIRST else len(SLOWEST_FIRST))
            for name, result in zip(order, pool.map(_run_one, order)):
                results[name] = result
    else:
        for name in stale:
            results[name] = _run_one(name)
    failures = []
    for name in stale:
        ok, message, seconds = results[name]
        if ok:
            c.log(f"{name}: {message} in {seconds:.2f}s -> {c.out / name}")
        else:
            failures.append((name, message))
            keys.new.pop(slot(name, options), None)
    keys.old = {k: v for k, v in keys.old.items() if k not in {slot(n, options) for n in stale}}
    keys.save(merge=True)
    return failures


def _run_one(name: str) -> tuple[bool, str, float]:
    book, out, options = _STATE["book"], _STATE["out"], _STATE["options"]
    t0 = time.perf_counter()
    try:
        message = formats()[name].build(book, Path(out) / name, options)
    except BuildError as e:
        return False, str(e), time.perf_counter() - t0
    except OSError as e:  # a read-only or full disk: one line, not a traceback
        where = f": {e.filename}" if e.filename else ""
        return False, f"{e.strerror or e}{where}", time.perf_counter() - t0
    return True, message or "done", time.perf_counter() - t0
