"""`make bench`: build synthetic books at 1x, 10x and 100x the real book and time every step.

Each measurement is the wall time of a whole `mlprep` process (interpreter start included) and the peak
resident memory of its largest process, the median of several runs, each into a fresh output folder (a
cold build: the cache is empty). Peers run in the same session on the same pages: `mkdocs build` (built-in
`mkdocs` theme) for the site and one direct `pandoc` call for the EPUB. Writes a Markdown table to
stdout and to benchmarks/out/results.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.synthetic import generate

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "out"
STEPS = ["validate", "site", "anki", "epub", "pdf", "build", "noop", "edit"]
# noop: `mlprep build` again on the cold build's output (every format up to date);
# edit: one topic's body changed, then `mlprep build site` on that output. Both need `build` first.
# The EPUB (pandoc holds the whole book: about 1 GB at 10x) and the PDFs (about 2 minutes at 10x, growing
# linearly) would take tens of minutes at 100x, so above 10x they run only with --full.
MAX_SCALE = {"epub": 10, "pdf": 10, "build": 10, "pandoc": 10, "noop": 10, "edit": 10}
SLOW = ("epub", "pdf", "build", "pandoc")  # measured once at 10x and above: minutes per run


def measure(cmd: list[str], cwd: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB (largest process of the tree) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(map(str, cmd))}\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def mlprep(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlprep.cli", *args]


def step_command(step: str, content: Path, out: Path, jobs: int) -> list[str]:
    base = ["--content", str(content), "--out", str(out), "-q"]
    if step == "noop":
        return mlprep(*base, "build", "--jobs", str(jobs))
    if step == "edit":
        return mlprep(*base, "build", "site", "--jobs", str(jobs))
    if step == "validate":
        return mlprep(*base, "validate")
    if step == "build":
        return mlprep(*base, "build", "--force", "--jobs", str(jobs))
    return mlprep(*base, "build", step, "--force", "--jobs", str(jobs))


def touch_one_topic(content: Path, i: int) -> None:
    """Change one topic's body, as an author would between two builds."""
    topic = content / "00_Foundations" / "bias_variance_tradeoff.md"
    topic.write_text(topic.read_text(encoding="utf-8") + f"\nEdited for benchmark run {i}.\n", encoding="utf-8")


def peer_sources(content: Path, dest: Path) -> None:
    """The same pages as plain Markdown: one file per topic for MkDocs, one book file for pandoc."""
    from mlprep.loader import load_book

    book, _ = load_book(content)
    docs = dest / "docs"
    shutil.rmtree(dest, ignore_errors=True)
    docs.mkdir(parents=True)
    (docs / "index.md").write_text(f"# {book.title}\n\n{book.overview}\n", encoding="utf-8")
    whole = [f"---\ntitle: {book.title!r}\nlang: {book.language}\n---\n"]
    for t in book.topics():
        qa = "\n\n## Interview questions\n\n" + "\n\n".join(f"**{q.q}**\n\n{q.a}" for q in t.questions)
        pit = "\n\n## Common pitfalls\n\n" + "\n".join(f"- {p.strip()}" for p in t.pitfalls) if t.pitfalls else ""
        text = f"# {t.title}\n\n{t.summary}\n\n{t.body}{qa}{pit}\n"
        text = text.replace("](topic:", "](").replace("```python norun", "```python")
        (docs / f"{t.id}.md").write_text(text, encoding="utf-8")
        whole.append(text)
    (dest / "mkdocs.yml").write_text(yaml.safe_dump({"site_name": book.title, "theme": {"name": "mkdocs"},
                                                     "use_directory_urls": False}), encoding="utf-8")
    (dest / "book.md").write_text("\n\n".join(whole), encoding="utf-8")


def pandoc() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def run(sizes: list[int], repeat: int, steps: list[str], jobs: int, full: bool, source: Path = ROOT / "content") -> str:
    results: dict[tuple[int, str], tuple[float, float] | None] = {}
    topics: dict[int, int] = {}
    for n in sizes:
        content = generate(source, WORK / f"content-x{n}", n)
        topics[n] = sum(1 for _ in content.glob("*/*.md"))
        peer = WORK / f"peer-x{n}"
        peer_sources(content, peer)
        reps = repeat if n < 100 else max(1, min(repeat, 2))
        built = WORK / f"out-x{n}-build"  # noop and edit reuse the cold build's output
        plan = [(s, step_command(s, content, built if s in ("noop", "edit") else WORK / f"out-x{n}-{s}", jobs))
                for s in steps]
        plan.append(("mkdocs", [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(peer / "mkdocs.yml"),
                                "-d", str(peer / "site")]))
        plan.append(("pandoc", [pandoc(), str(peer / "book.md"), "-f", "markdown", "-t", "epub3", "--toc",
                                "--toc-depth=2", "--mathml", "-o", str(peer / "book.epub")]))
        for name, cmd in plan:
            if not full and n > MAX_SCALE.get(name, 10**9):
                results[(n, name)] = None
                continue
            if name in ("noop", "edit") and not built.exists():
                results[(n, name)] = None
                continue
            runs = []
            for i in range(1 if n >= 10 and name in SLOW else reps):
                for out in WORK.glob(f"out-x{n}-{name}"):
                    shutil.rmtree(out)
                if name == "edit":
                    touch_one_topic(content, i)
                runs.append(measure(cmd))
            results[(n, name)] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
            print(f"  x{n:<4} {name:<9} {results[(n, name)][0]:7.2f} s  {results[(n, name)][1]:7.0f} MiB",
                  file=sys.stderr, flush=True)
    return table(sizes, steps, results, topics, repeat, jobs)


def table(sizes, steps, results, topics, repeat, jobs) -> str:
    def cell(n, name):
        r = results.get((n, name))
        return "not run" if r is None else f"{r[0]:.2f} s / {r[1]:.0f} MiB"

    def ratio(n, ours, theirs):
        a, b = results.get((n, ours)), results.get((n, theirs))
        return "—" if not a or not b else f"{a[0] / b[0]:.2f}×"

    cols = [s for s in steps if s not in ("noop", "edit")] + ["mkdocs", "pandoc"] + [s for s in steps if s in ("noop", "edit")]
    lines = [f"| size (topics) | {' | '.join(cols)} | site / mkdocs | epub / pandoc |",
             "|" + " --- |" * (len(cols) + 3)]
    for n in sizes:
        lines.append(f"| {n}× ({topics[n]}) | " + " | ".join(cell(n, c) for c in cols)
                     + f" | {ratio(n, 'site', 'mkdocs')} | {ratio(n, 'epub', 'pandoc')} |")
    notes = [f"Wall time (median of {repeat} runs; 2 at 100×; one run of {', '.join(SLOW)} at 10× and above) / peak RSS of the largest process, each a whole "
             f"process including interpreter start and (except validate) loading and validating the book; "
             f"cold builds (`--force`), `--jobs {jobs}`; `build` = all four formats. `noop` = `mlprep build` again with nothing changed; "
             f"`edit` = one topic's body changed, then `mlprep build site` (incremental)."]
    if any(v is None for v in results.values()):
        notes.append("'not run': above 10× the EPUB, PDF and whole-build runs (and the no-op and edit runs that "
                     "need a whole build) would take tens of minutes each; `--full` runs them.")
    linear = [s for s in ("validate", "site", "anki") if s in steps]
    if 1 in sizes and 100 in sizes and linear and all(results.get((n, s)) for n in (1, 100) for s in linear):
        one = sum(results[(1, s)][0] for s in linear)
        hundred = sum(results[(100, s)][0] for s in linear)
        notes.append(f"Growth of {' + '.join(linear)}: 100× the content costs {hundred / one:.0f}× the time of 1×.")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,10,100", help="comma-separated multiples of the real book")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is reported)")
    ap.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, from {','.join(STEPS)}")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--full", action="store_true", help="also run EPUB/PDF at sizes above 10x")
    ap.add_argument("--content", type=Path, default=ROOT / "content",
                    help="the book to scale (default: the real one; the tests pass a small fixture book)")
    ap.add_argument("--work", type=Path, help="where the books, outputs and results.md go (default: benchmarks/out)")
    a = ap.parse_args()
    global WORK
    WORK = (a.work or WORK).resolve()
    steps = [s for s in a.steps.split(",") if s]
    bad = [s for s in steps if s not in STEPS]
    if bad:
        ap.error(f"unknown steps {bad}")
    WORK.mkdir(parents=True, exist_ok=True)
    text = run([int(x) for x in a.sizes.split(",")], a.repeat, steps, a.jobs, a.full, a.content.resolve())
    (WORK / "results.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
