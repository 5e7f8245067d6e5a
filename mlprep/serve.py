"""`mlprep serve`: serve build/site on 127.0.0.1, rebuild it when content or templates change, and make the open
page follow: it reloads after a good rebuild and shows the problems in an overlay after a bad one.

Changes are watched with `watchfiles` (the OS's file events, not polling). The served pages get one extra
script, `/__mlprep/live.js`, added on the way out (the files in build/site stay exactly what `mlprep build`
writes); it listens to `/__mlprep/events`, a server-sent-events stream."""
from __future__ import annotations

import errno
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

from mlprep.builders import BuildError, Options, formats
from mlprep.errors import ContentError
from mlprep.loader import load_book

LIVE_JS = """(() => {
  const overlay = () => document.getElementById('mlprep-live');
  const show = (lines) => {
    let o = overlay();
    if (!o) {
      o = document.createElement('div');
      o.id = 'mlprep-live';
      o.setAttribute('role', 'alert');
      o.style.cssText = 'position:fixed;inset:auto 1rem 1rem 1rem;z-index:99;max-height:60vh;overflow:auto;' +
        'background:#2b0b0e;color:#ffdcdc;border:2px solid #f85149;border-radius:8px;padding:1rem;' +
        'font:13px/1.5 ui-monospace,monospace;white-space:pre-wrap;box-shadow:0 8px 24px rgba(0,0,0,.4)';
      document.body.appendChild(o);
    }
    o.textContent = 'mlprep: the site was not rebuilt; still showing the last good build.\\n\\n' + lines.join('\\n');
  };
  const source = new EventSource('/__mlprep/events');
  let generation = null;
  source.addEventListener('state', (e) => {
    const s = JSON.parse(e.data);
    if (s.problems.length) { show(s.problems); return; }
    if (generation !== null && s.generation !== generation) { location.reload(); return; }
    generation = s.generation;
    const o = overlay(); if (o) o.remove();
  });
})();
"""


class State:
    """The last rebuild's outcome, shared by the watcher and every open page's event stream."""

    def __init__(self):
        self.cond = threading.Condition()
        self.generation = 0  # one more per good rebuild: a page seeing it change reloads
        self.problems: list[str] = []
        self.version = 0  # one more per rebuild of any outcome: wakes the streams

    def publish(self, ok: bool, problems: list[str]) -> None:
        with self.cond:
            self.generation += ok
            self.problems = [] if ok else problems
            self.version += 1
            self.cond.notify_all()

    def message(self) -> bytes:
        data = json.dumps({"generation": self.generation, "problems": self.problems})
        return f"event: state\ndata: {data}\n\n".encode()


def rebuild(content: Path, out: Path, log) -> tuple[bool, list[str]]:
    """Rebuild the site; on bad content report the problems and keep serving the last good site."""
    try:
        book, _ = load_book(content, base=Path.cwd())
        formats()["site"].build(book, out / "site", Options(log=log))
    except ContentError as e:
        problems = [str(p) for p in e.problems]
    except BuildError as e:
        problems = [f"site: build failed: {e}"]
    except Exception as e:  # noqa: BLE001 - whatever a rebuild raises, the server keeps serving
        problems = [f"site: rebuild failed ({type(e).__name__}: {e})"]
    else:
        return True, []
    for p in problems:
        click.echo(p, err=True)
    click.echo("site not rebuilt; still serving the last good build", err=True)
    return False, problems


def handler_for(site: Path, state: State):
    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - signature from the base class
            pass

        def do_GET(self):  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/__mlprep/live.js":
                return self._send(LIVE_JS.encode(), "text/javascript; charset=utf-8")
            if path == "/__mlprep/events":
                return self._events()
            if path.endswith((".html", "/")):
                target = Path(self.translate_path(path))
                target = target / "index.html" if target.is_dir() else target
                if target.is_file():
                    page = target.read_bytes().replace(b"</body>", b'<script src="/__mlprep/live.js"></script></body>', 1)
                    return self._send(page, "text/html; charset=utf-8")
            return super().do_GET()

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            try:
                with state.cond:
                    seen = state.version
                    first = state.message()
                self.wfile.write(first)
                self.wfile.flush()
                while True:
                    with state.cond:
                        state.cond.wait_for(lambda: state.version != seen, timeout=15)
                        changed, seen, msg = state.version != seen, state.version, state.message()
                    self.wfile.write(msg if changed else b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page went away

    return functools.partial(Handler, directory=str(site))


def serve(c, port: int, watch: bool = True) -> None:
    import watchfiles

    templates = Options().templates
    state = State()
    ok, problems = rebuild(c.content, c.out, c.log)
    if not ok and not (c.out / "site" / "index.html").exists():
        raise SystemExit(1)
    state.publish(ok, problems)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(c.out / "site", state))
    except OSError as e:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {e.strerror}"
                                   + ("; choose another with --port" if e.errno == errno.EADDRINUSE else ""))
    server.daemon_threads = True  # open event streams never hold up Ctrl-C
    click.echo(f"serving {c.out / 'site'} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    try:
        if not watch:
            stop.wait()
        folders = [str(p) for p in (c.content, templates) if p.exists()]
        # the site builder is incremental: only the pages whose inputs changed are written again
        for _changes in watchfiles.watch(*folders, stop_event=stop, debounce=200, raise_interrupt=False):
            import time

            t0 = time.perf_counter()
            ok, problems = rebuild(c.content, c.out, c.log)
            state.publish(ok, problems)
            if ok:
                click.echo(f"rebuilt in {time.perf_counter() - t0:.2f}s")
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
