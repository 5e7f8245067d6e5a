"""The `mlprep` command line: validate, build, stats, serve, new, check-examples, schema, clean."""
from __future__ import annotations

import gc
import os
import shutil
import sys
import time
from pathlib import Path

import click

from mlprep import __version__
from mlprep.builders import Options, formats
from mlprep.errors import ContentError
from mlprep.loader import load_book


class Ctx:
    def __init__(self, content: Path, out: Path, quiet: bool):
        self.content, self.out, self.quiet = content, out, quiet
        self._book = None

    def log(self, msg: str) -> None:
        if not self.quiet:
            click.echo(msg, err=True)

    def load(self):
        """Load the book (once per command) or print every problem and exit 1 (no traceback)."""
        if self._book is not None:
            return self._book
        t0 = time.perf_counter()
        try:
            book, warnings = load_book(self.content, base=Path.cwd())
        except ContentError as e:
            for p in e.problems:
                click.echo(str(p), err=True)
            n = len([p for p in e.problems if not p.warning])
            click.echo(f"{n} problem{'s' * (n != 1)} in {self.content}; nothing was built or changed.", err=True)
            sys.exit(1)
        for w in warnings:
            click.echo(str(w), err=True)
        self.log(f"loaded {len(book.topics())} topics from {self.content} in {time.perf_counter() - t0:.2f}s")
        self._book = book
        return book


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--content", type=click.Path(file_okay=False, path_type=Path), default="content",
              show_default=True, help="The content folder (holds book.yaml).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="build",
              show_default=True, help="Where outputs are written.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
@click.version_option(__version__, prog_name="mlprep")
@click.pass_context
def main(ctx: click.Context, content: Path, out: Path, quiet: bool) -> None:
    """Build the ML Interview Prep site, EPUB, PDF cheat sheets and Anki deck from content/."""
    ctx.obj = Ctx(content, out, quiet)


@main.command()
@pass_ctx
def validate(c: Ctx) -> None:
    """Check all content; print every problem as path:line: field: message."""
    book = c.load()
    from mlprep.builders.anki import manifest_warnings

    for w in manifest_warnings(book, c.out / "anki" / "manifest.json"):
        click.echo(w, err=True)
    c.log("content is valid")


@main.command()
@click.argument("fmt", nargs=-1, metavar="[FORMAT]...")
@click.option("--role", help="Build a focused output with only this role's topics.")
@click.option("--path", "study_path", help="Build a focused output with only this study path's topics.")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True, help="PDF paper size.")
@click.option("-j", "--jobs", type=int, default=os.cpu_count() or 1, show_default=True,
              help="Parallel workers for formats and for pages/PDFs within a format.")
@click.option("--force", is_flag=True, help="Ignore the cache and rebuild everything.")
@pass_ctx
def build(c: Ctx, fmt: tuple[str, ...], role: str | None, study_path: str | None, paper: str, jobs: int,
          force: bool) -> None:
    """Build FORMATs (default: all of them) into the output folder.

    Incremental: a format whose inputs (content, its templates, the tool, the options) are unchanged is
    skipped, and within a format only the pages and PDFs whose inputs changed are rendered again.
    """
    from mlprep.build import run_build

    available = formats()
    unknown = [f for f in fmt if f not in available]
    if unknown:
        raise click.UsageError(f"unknown format {', '.join(unknown)}; choose from {', '.join(available)}")
    if role and study_path:
        raise click.UsageError("use --role or --path, not both")
    if role or study_path:  # only formats that have focused editions (they declare KEEP for them)
        focusable = [f for f, mod in available.items() if getattr(mod, "KEEP", ())]
        wrong = [f for f in fmt if f not in focusable]
        if wrong:
            raise click.UsageError(f"{', '.join(wrong)} has no focused edition; --role/--path work with "
                                   f"{', '.join(focusable)}")
        fmt = fmt or tuple(focusable)
    opts = Options(role=role, path=study_path, paper=paper, jobs=max(1, jobs), quiet=c.quiet, log=c.log, force=force)
    failures = run_build(c, list(fmt or available), opts)
    for name, message in failures:
        click.echo(f"{name}: build failed: {message}", err=True)
        click.echo(f"{name}: the previous output in {c.out / name} is unchanged.", err=True)
    if failures:
        sys.exit(1)


@main.command()
@pass_ctx
def stats(c: Ctx) -> None:
    """Per section: topics written/planned, words, questions, examples, references, shortfalls."""
    from mlprep.stats import section_stats, shortfall_lines

    try:
        book, _ = load_book(c.content, base=Path.cwd())
    except ContentError as e:
        click.echo(f"{len(e.problems)} validation problems; run `mlprep validate`. Stats need valid content.", err=True)
        sys.exit(1)
    rows = section_stats(book)
    head = ("section", "written", "planned", "words", "questions", "examples", "refs", "short")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        click.echo("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    lines = shortfall_lines(book)
    click.echo("\nEvery written topic meets the guide's minimums." if not lines else "\nShort of the guide:")
    for line in lines:
        click.echo(f"  {line}")


@main.command()
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-watch", is_flag=True, help="Serve without rebuilding on changes.")
@pass_ctx
def serve(c: Ctx, port: int, no_watch: bool) -> None:
    """Serve build/site on 127.0.0.1 and rebuild it when content or templates change."""
    from mlprep.serve import serve as run

    run(c, port, watch=not no_watch)


@main.group()
def new() -> None:
    """Create new content from a scaffold."""


@new.command("topic")
@click.argument("section")
@click.argument("name")
@pass_ctx
def new_topic(c: Ctx, section: str, name: str) -> None:
    """Scaffold topic NAME (a snake_case id) in SECTION (folder name or id) and list it in order."""
    from mlprep.scaffold import new_topic as make

    try:
        path = make(c.content, section, name)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    click.echo(f"created {path}; fill it in, then run `mlprep validate`")


@main.command("check-examples")
@click.option("-j", "--jobs", type=int, default=os.cpu_count() or 1, show_default=True)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per example.")
@click.option("-k", "match", help="Only examples whose path contains this text.")
@pass_ctx
def check_examples(c: Ctx, jobs: int, timeout: float, match: str | None) -> None:
    """Run every ```python block of the content in its own process; report failures as path:line."""
    from mlprep.examples import collect, run_all

    book = c.load()
    examples = [e for e in collect(book, base=Path.cwd()) if not match or match in e.where]
    result = run_all(examples, jobs=max(1, jobs), timeout=timeout, log=c.log)
    for f in result.failures:
        click.echo(f"{f.example.where}: example failed ({f.reason})\n{f.tail}", err=True)
    click.echo(f"{len(result.passed)} passed, {len(result.failures)} failed, {len(result.skipped)} skipped"
               + (f" (need {', '.join(sorted(result.skip_reasons))})" if result.skipped else ""))
    if result.failures:
        sys.exit(1)


@main.command()
@click.option("--check", is_flag=True, help="Exit 1 if the committed JSON Schema is stale.")
def schema(check: bool) -> None:
    """Write the JSON Schema of book.yaml, section.yaml and topic front matter to schemas/."""
    from mlprep.jsonschema import write_schemas

    stale = write_schemas(check=check)
    if check and stale:
        click.echo(f"stale: {', '.join(stale)}; run `mlprep schema`", err=True)
        sys.exit(1)
    click.echo("schemas are current" if check else "schemas written")


@main.command()
@pass_ctx
def clean(c: Ctx) -> None:
    """Delete the output folder."""
    if c.out.exists():
        shutil.rmtree(c.out)
    c.log(f"removed {c.out}")


def entry() -> None:
    """Console entry point. The cyclic GC is off (a build allocates millions of small objects and frees
    them at exit; collecting them along the way costs seconds on big books and reclaims almost nothing),
    and the process ends with os._exit once output is flushed, skipping interpreter teardown."""
    gc.disable()
    code = 0
    try:
        main()
    except SystemExit as e:
        if isinstance(e.code, str):
            click.echo(e.code, err=True)
        code = e.code if isinstance(e.code, int) else (1 if e.code else 0)
    except OSError as e:  # a read-only or full disk, a vanished folder: say so in one line
        where = f": {e.filename}" if e.filename else ""
        click.echo(f"mlprep: error: {e.strerror or e}{where}", err=True)
        code = 1
    except KeyboardInterrupt:
        click.echo("mlprep: interrupted", err=True)
        code = 130
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
