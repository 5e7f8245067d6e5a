"""Images in content: only raster files inside content/, resolved once and named by their hash.

A Markdown image is the one way content could point a builder at a file, so its path is checked like
untrusted input: relative, inside content/ after symlinks are resolved, a regular file of an image type
and a bounded size. Anything else is a placed validation error, and builders show the alt text.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import unquote

TYPES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
MAX_BYTES = 5 * 1024 * 1024


def resolve_media(src: str, base: Path, root: Path) -> Path:
    """The file that image `src` (relative to `base`) names, or ValueError saying why it is refused."""
    if not src.strip():
        raise ValueError("image has no path")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", src) or src.startswith(("/", "\\")):
        raise ValueError(f"{src} is not a relative path inside content/ (remote and absolute images are not "
                         "allowed: a built page must not fetch anything)")
    path = (base / unquote(src.split("#")[0].split("?")[0])).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{src} is outside content/")
    if not path.is_file():
        raise ValueError(f"{src} does not exist or is not a regular file")
    if path.suffix.lower() not in TYPES:
        raise ValueError(f"{src}: images must be {', '.join(sorted(TYPES))}")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{src} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return path


def media_name(path: Path) -> str:
    """A flat, collision-free file name for a media file: its content hash plus its type."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] + path.suffix.lower()


def resolver(base: Path, root: Path, href):
    """A render-time media resolver for texts under `base`: src -> href(path), or None if refused."""
    def resolve(src: str):
        try:
            return href(resolve_media(src, base, root))
        except ValueError:
            return None
    return resolve


def book_media(book, topics=None) -> list[Path]:
    """Every valid media file the book's Markdown (or these topics') refers to, once, in a fixed order."""
    from mlprep.markdown import parse

    texts = []
    for t in (book.topics() if topics is None else topics):
        texts += [(t.source.parent, x) for x in (t.body, t.summary, *t.pitfalls)]
        texts += [(t.source.parent, x) for q in t.questions for x in (q.q, q.short, q.a)]
    if topics is None:
        texts += [(s.source.parent, s.overview) for s in book.sections]
        texts += [(book.root, x) for x in (book.overview, book.how_to_use)]
    found: dict[Path, None] = {}
    for base, text in texts:
        for img in parse(text).images:
            try:
                found[resolve_media(img.src, base, book.root)] = None
            except ValueError:
                pass
    return sorted(found)
