"""`mlprep serve`: serve build/site on 127.0.0.1 and rebuild it when content or templates change."""
from __future__ import annotations

import errno
import functools
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

from mlprep.builders import BuildError, Options, formats
from mlprep.errors import ContentError
from mlprep.loader import load_book


def snapshot(*folders: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for f in folders if f.exists() for p in f.rglob("*") if p.is_file()}


def rebuild(content: Path, out: Path, log) -> bool:
    """Rebuild the site; on bad content print the problems and keep serving the last good site."""
    try:
        book, _ = load_book(content, base=Path.cwd())
        formats()["site"].build(book, out / "site", Options(log=log))
    except ContentError as e:
        for p in e.problems:
            click.echo(str(p), err=True)
        click.echo("site not rebuilt; still serving the last good build", err=True)
        return False
    except BuildError as e:
        click.echo(f"site: build failed: {e}", err=True)
        return False
    except Exception as e:  # noqa: BLE001 - whatever a rebuild raises, the server keeps serving
        click.echo(f"site: rebuild failed ({type(e).__name__}: {e}); still serving the last good build", err=True)
        return False
    return True


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


def serve(c, port: int, watch: bool = True) -> None:
    templates = Options().templates
    if not rebuild(c.content, c.out, c.log) and not (c.out / "site" / "index.html").exists():
        raise SystemExit(1)
    handler = functools.partial(Quiet, directory=str(c.out / "site"))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {e.strerror}"
                                   + ("; choose another with --port" if e.errno == errno.EADDRINUSE else ""))
    click.echo(f"serving {c.out / 'site'} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen = snapshot(c.content, templates)
    try:
        while True:
            time.sleep(0.5)
            if not watch:
                continue
            now = snapshot(c.content, templates)
            if now != seen:
                seen = now
                t0 = time.perf_counter()
                if rebuild(c.content, c.out, c.log):
                    click.echo(f"rebuilt in {time.perf_counter() - t0:.2f}s")
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
