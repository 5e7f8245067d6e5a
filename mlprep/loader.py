"""Load content/ into a validated, cross-checked Book, collecting every problem before stopping.

Gather, then check: each file is decoded, split and parsed on its own (so one broken file never hides
another's problems), then the checks that span files run on what loaded: ids, links, prerequisites,
study paths, section order and the guide's minimums.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ValidationError

from mlprep.errors import Collector, ContentError, Problem
from mlprep.markdown import mathml, parse
from mlprep.media import resolve_media
from schemas.models import SAFE_URL, SNAKE, Book, BookMeta, Kind, Level, Section, SectionMeta, Topic, TopicMeta

try:  # libyaml is several times faster; the pure-Python loader gives the same results
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

SECTION_DIR = re.compile(r"^(\d\d)_([A-Za-z0-9_]+)$")
CASE_STUDY_HEADINGS = [
    "Problem and clarifying questions", "Requirements and success metrics", "Data", "Approach",
    "Evaluation", "Deployment and monitoring", "Trade-offs and alternatives", "What interviewers probe",
]
DERIVED = {"id", "section_id", "body", "source", "body_line", "lines", "digest"}


# --- reading files ---------------------------------------------------------------------------

MAX_FILE_BYTES = 2 * 1024 * 1024  # a topic is ~40 KB; anything near this is a mistake or an attack
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def read_text(path: Path, col: Collector) -> Optional[str]:
    """Decode UTF-8 (BOM tolerated), normalise line endings; report what can't or mustn't be read.

    Only regular files inside content/ are read (a symlink may point elsewhere in content/), never FIFOs,
    devices or files outside; control characters other than tab and newline are refused (U+001F is
    Anki's field separator; C0 controls break XHTML). The mtime is taken before reading and the git blob
    id of the bytes read, so builders can date exactly the text they got."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            real = path.resolve()
            if col.root is not None and not real.is_relative_to(col.root.resolve()):
                col.add(path, 0, "", "is a symbolic link to a file outside content/; content files must live in content/")
                return None
            st = os.stat(real)
        if not stat.S_ISREG(st.st_mode):
            col.add(path, 0, "", "is not a regular file (a FIFO, device or folder); content files must be regular files")
            return None
        if st.st_size > MAX_FILE_BYTES:
            col.add(path, 0, "", f"is {st.st_size // 1024} KiB; content files are limited to {MAX_FILE_BYTES // 1024} KiB")
            return None
        raw = path.read_bytes()
    except OSError as e:
        col.add(path, 0, "", f"cannot read file: {e.strerror}")
        return None
    col.files[path] = (st.st_mtime_ns, hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest())
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        col.add(path, line, "", f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {column}); save the file as UTF-8")
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = list(_CONTROL.finditer(text))
    for m in bad[:5]:
        line = text.count("\n", 0, m.start()) + 1
        column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
        col.add(path, line, "", f"control character U+{ord(m.group()):04X} at column {column}; only tab and newline "
                                "are allowed")
    return None if bad else text


MAX_DEPTH = 40  # front matter is a few levels deep; deeper is a mistake or an attack


def parse_yaml(text: str, path: Path, col: Collector, line_offset: int = 0) -> tuple[Any, dict[str, int]]:
    """safe_load plus a map of dotted field path -> 1-based line, from the parser's marks.

    Anchors and aliases are refused (content has no need for them, and nested aliases expand
    exponentially: the "billion laughs"), and so is nesting deeper than MAX_DEPTH."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None and not _check_graph(node, path, col, line_offset):
            return None, {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        col.add(path, *_yaml_error(e, text, line_offset))
        return None, {}
    except yaml.YAMLError as e:
        col.add(path, line_offset + 1, "", f"YAML error: {e}")
        return None, {}
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines, line_offset, path, col)
    return data, lines


def _yaml_error(e: yaml.MarkedYAMLError, text: str, offset: int) -> tuple[int, str, str]:
    """(line, field, message) for a YAML syntax error, placed where the mistake starts: an unclosed quote
    is reported on the line that opens it, with where the scanner gave up."""
    mark, context = e.problem_mark, e.context_mark
    problem = e.problem or str(e)
    src_lines = text.split("\n")
    if mark:
        bad_line = src_lines[mark.line] if mark.line < len(src_lines) else ""
        if "\t" in bad_line[: mark.column + 1] or "\\t" in problem:
            return mark.line + 1 + offset, "", f"YAML syntax error at column {mark.column + 1}: tab character in YAML; indent with spaces"
    if context and (not mark or context.line != mark.line):
        where = f"the parser stopped at line {mark.line + 1 + offset}, column {mark.column + 1}" if mark else ""
        ctx = e.context or ""
        what = ("a quoted string starting here is never closed" if "quoted scalar" in ctx
                else "a [ list opened here is never closed" if "flow sequence" in ctx
                else "a { mapping opened here is never closed" if "flow mapping" in ctx
                else f"{ctx} here: {problem}")
        return context.line + 1 + offset, "", f"YAML syntax error: {what}" + (f" ({where})" if where else "")
    if mark:
        return mark.line + 1 + offset, "", f"YAML syntax error at column {mark.column + 1}: {problem}"
    return offset + 1, "", f"YAML syntax error: {problem}"


def _check_graph(root: yaml.Node, path: Path, col: Collector, offset: int) -> bool:
    """Refuse aliases (a node reached twice) and excessive depth, walking each node once."""
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            col.add(path, node.start_mark.line + 1 + offset, "", "YAML anchors and aliases (&name, *name) are not "
                    "allowed in content; write the value out")
            return False
        seen.add(id(node))
        if depth > MAX_DEPTH:
            col.add(path, node.start_mark.line + 1 + offset, "", f"YAML nested deeper than {MAX_DEPTH} levels")
            return False
        if isinstance(node, yaml.MappingNode):
            stack += [(n, depth + 1) for kv in node.value for n in kv]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(n, depth + 1) for n in node.value]
    return True


def _walk(node: yaml.Node, prefix: str, out: dict[str, int], offset: int, path: Path, col: Collector) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            k = str(key.value)
            p = f"{prefix}.{k}" if prefix else k
            if k in seen:
                col.add(path, key.start_mark.line + 1 + offset, _pretty(p), "duplicate key (the later value would silently win)")
            seen.add(k)
            out[p] = key.start_mark.line + 1 + offset
            if isinstance(value, yaml.ScalarNode):
                block = value.style in ("|", ">")
                out[p + ":value"] = value.start_mark.line + 1 + offset + (1 if block else 0)
            _walk(value, p, out, offset, path, col)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            p = f"{prefix}.{i}"
            out[p] = item.start_mark.line + 1 + offset
            if isinstance(item, yaml.ScalarNode):
                block = item.style in ("|", ">")
                out[p + ":value"] = item.start_mark.line + 1 + offset + (1 if block else 0)
            _walk(item, p, out, offset, path, col)


def _pretty(dotted: str) -> str:
    """questions.3.a -> questions[3].a"""
    out = ""
    for part in dotted.split("."):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def line_for(lines: dict[str, int], loc: tuple, default: int = 1) -> int:
    parts = [str(p) for p in loc]
    while parts:
        key = ".".join(parts)
        if key in lines:
            return lines[key]
        parts.pop()
    return default


def split_front_matter(text: str, path: Path, col: Collector) -> Optional[tuple[str, str, int]]:
    """Return (yaml_text, body, body_line) or report why the file has no usable front matter."""
    if not text.strip():
        col.add(path, 1, "", "empty file: a topic starts with front matter between '---' lines, then its body")
        return None
    lines = text.split("\n")
    if lines[0].strip() != "---":
        col.add(path, 1, "", "missing front matter: the file must start with a line '---'")
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]), i + 2
    col.add(path, 1, "", "front matter opened on line 1 is never closed: add a line '---' after it")
    return None


# --- validation helpers ----------------------------------------------------------------------

def report_validation(e: ValidationError, model: type[BaseModel], path: Path, lines: dict[str, int],
                      col: Collector, prefix: tuple = ()) -> None:
    for err in e.errors():
        loc = prefix + tuple(err["loc"])
        msg = err["msg"]
        field = _pretty(".".join(str(p) for p in loc))
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, loc[len(prefix):-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            msg = "unknown field" + (f" (did you mean '{close[0]}'?)" if close else "") + \
                (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif err["type"] == "value_error" and msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            if ": " in msg:
                name, msg = msg.split(": ", 1)
                loc = loc + (name,)
                field = _pretty(".".join(str(p) for p in loc))
        elif err["type"] == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern", "")
            msg = {r"^[a-z0-9]+(-[a-z0-9]+)*$": "must be lower-case kebab-case (a-z, 0-9, '-')",
                   SNAKE: "must be a topic id: lower-case snake_case (a-z, 0-9, '_')",
                   SAFE_URL: "must be an http(s) URL with no spaces, quotes, angle brackets or backslashes"}.get(pattern, msg[0].lower() + msg[1:])
            msg += f", got {err.get('input')!r}"
        elif err["type"] == "enum":
            msg = f"{msg[0].lower()}{msg[1:]}, got {err.get('input')!r}"
        else:
            msg = msg[0].lower() + msg[1:]
        col.add(path, line_for(lines, loc), field, msg)


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """Follow loc through nested models to list the fields allowed where an unknown one appeared."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        ann = info.annotation
        for arg in getattr(ann, "__args__", ()) or (ann,):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
                break
        else:
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                current = ann
    fields = getattr(current, "model_fields", {})
    return [f for f in fields if f not in DERIVED and f not in ("sections", "root", "topics", "folder", "number")]


# --- loading ---------------------------------------------------------------------------------

def load_topic(path: Path, section_id: str, col: Collector) -> Optional[Topic]:
    stem = path.stem
    if not re.fullmatch(SNAKE.strip("^$"), stem):
        col.add(path, 0, "", f"file name must be a topic id in lower-case snake_case, got {stem!r}")
        return None
    text = read_text(path, col)
    if text is None:
        return None
    split = split_front_matter(text, path, col)
    if split is None:
        return None
    fm, body, body_line = split
    data, lines = parse_yaml(fm, path, col, line_offset=1)
    if data is None and not lines:
        if fm.strip() == "" :
            col.add(path, 1, "", "front matter is empty: it needs title, summary, difficulty, …")
        return None
    if not isinstance(data, dict):
        col.add(path, 2, "", "front matter must be a mapping of field: value")
        return None
    bad = sorted(DERIVED & data.keys())
    for key in bad:
        col.add(path, lines.get(key, 1), key, "unknown field: ids come from file names and the body follows the front matter")
        del data[key]
    try:
        return Topic.model_validate({**data, "id": stem, "section_id": section_id, "body": body,
                                     "source": path, "body_line": body_line, "lines": lines,
                                     "digest": _hash(text)})
    except ValidationError as e:
        report_validation(e, TopicMeta, path, lines, col)
        return None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_yaml_model(path: Path, model: type[BaseModel], col: Collector):
    """(validated model or None, field-path -> line map, hash of the text) for book.yaml / section.yaml."""
    text = read_text(path, col)
    if text is None:
        return None, {}, ""
    digest = _hash(text)
    if not text.strip():
        col.add(path, 1, "", "empty file")
        return None, {}, digest
    data, lines = parse_yaml(text, path, col)
    if data is None and not lines:
        return None, {}, digest
    if not isinstance(data, dict):
        col.add(path, 1, "", "must be a mapping of field: value")
        return None, {}, digest
    try:
        return model.model_validate(data), lines, digest
    except ValidationError as e:
        report_validation(e, model, path, lines, col)
        return None, lines, digest


def load_book(root: Path, base: Optional[Path] = None) -> tuple[Book, list[Problem]]:
    """Load and check the book under `root`. Raises ContentError with every error; returns warnings."""
    root = Path(root)
    col = Collector(base or root.parent, root=root)
    book_path = root / "book.yaml"
    if not book_path.exists():
        col.add(book_path, 0, "", "missing: every book needs a book.yaml")
        raise ContentError(col.problems)
    meta, book_lines, book_digest = load_yaml_model(book_path, BookMeta, col)

    sections: list[Section] = []
    section_lines: dict[str, dict[str, int]] = {}
    section_ids: dict[str, Path] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        m = SECTION_DIR.fullmatch(folder.name)
        if not m:
            if not folder.name.startswith((".", "_")):
                col.add(folder, 0, "", "section folders are named NN_Title_Words (e.g. 05_RAG_and_Agent_Systems)")
            continue
        if not folder.resolve().is_relative_to(root.resolve()):
            col.add(folder, 0, "", "is a symbolic link to a folder outside content/; sections must live in content/")
            continue
        sid = m.group(2).lower()
        if sid in section_ids:
            col.add(folder, 0, "", f"section id {sid!r} is already used by {col.rel(section_ids[sid])} "
                                   "(ids come from folder names without the number, lower-cased)")
            continue
        section_ids[sid] = folder
        spath = folder / "section.yaml"
        if not spath.exists():
            col.add(spath, 0, "", "missing: every section folder needs a section.yaml (title, overview, order)")
            continue
        smeta, slines, sdigest = load_yaml_model(spath, SectionMeta, col)
        topics = [t for f in sorted(folder.glob("*.md")) if (t := load_topic(f, sid, col))]
        if smeta is None:
            if not topics:
                continue
            # section.yaml is broken (already reported): keep its topics so links to them don't cascade
            smeta = SectionMeta(title=folder.name, overview="-", order=[t.id for t in topics])
        section_lines[sid] = slines
        by_id = {t.id: t for t in topics}
        files = {f.stem for f in folder.glob("*.md")}
        seen: set[str] = set()
        for i, tid in enumerate(smeta.order):
            if tid in seen:
                col.add(spath, slines.get(f"order.{i}", 1), f"order[{i}]", f"{tid!r} is listed twice")
            seen.add(tid)
        for stem in sorted(files - seen):
            col.add(spath, slines.get("order", 1), "order", f"{stem}.md is not listed in order (every topic file exactly once)")
        ordered = [by_id[t] for t in dict.fromkeys(smeta.order) if t in by_id]
        sections.append(Section(**smeta.model_dump(), id=sid, folder=folder.name, number=int(m.group(1)),
                                topics=ordered, source=spath, digest=sdigest))

    if meta is None:
        raise ContentError(col.problems)
    book = Book.model_validate({**meta.model_dump(), "sections": sections, "root": root,
                                "digest": book_digest, "files": col.files})
    check_book(book, col, book_path, book_lines, section_lines)
    if col.errors:
        raise ContentError(col.problems)
    return book, col.warnings


def check_book(book: Book, col: Collector, book_path: Path, book_lines: dict[str, int],
               section_lines: dict[str, dict[str, int]]) -> None:
    """The checks no single model can make."""
    # every id the map knows: written or planned
    known: dict[str, Section] = {}
    for s in book.sections:
        for i, tid in enumerate(s.order):
            if tid in known and known[tid] is not s:
                col.add(s.source, section_lines[s.id].get(f"order.{i}", 1), f"order[{i}]",
                        f"{tid!r} is already listed in {known[tid].folder}/section.yaml")
            known.setdefault(tid, s)
    written: dict[str, Topic] = {}
    for t in book.topics():
        if t.id in written:
            col.add(t.source, 0, "", f"topic id {t.id!r} is already used by {col.rel(written[t.id].source)}")
        written.setdefault(t.id, t)
    roles = {r.id for r in book.roles}

    def unknown(tid: str) -> str:
        close = difflib.get_close_matches(tid, list(known), n=1)
        return f"unknown topic {tid!r}" + (f" (did you mean {close[0]!r}?)" if close else "")

    def check_ids(ids, loc: tuple, kind: str = "topic") -> None:
        """Report each id in `ids` (a list at `loc` in book.yaml) that the map does not know."""
        for j, x in enumerate(ids):
            here = (*loc, j)
            bad = (x not in known) if kind == "topic" else (x not in sections if kind == "section" else x not in roles)
            if bad:
                msg = unknown(x) if kind == "topic" else (
                    f"unknown section {x!r}; sections: {', '.join(sorted(sections))}" if kind == "section"
                    else f"unknown role {x!r}; book.yaml declares: {', '.join(sorted(roles))}")
                col.add(book_path, line_for(book_lines, here), _pretty(".".join(map(str, here))), msg)

    sections = {s.id for s in book.sections}
    for i, r in enumerate(book.roles):
        for j, c in enumerate(r.critical_topics):
            if isinstance(c, str) and c not in known:
                col.add(book_path, line_for(book_lines, ("roles", i, "critical_topics", j)),
                        f"roles[{i}].critical_topics[{j}]", unknown(c))
            elif not isinstance(c, str):
                check_ids(c.topics, ("roles", i, "critical_topics", j, "topics"))
        check_ids(r.also_critical, ("roles", i, "also_critical"))
    for i, p in enumerate(book.study_paths):
        for w, week in enumerate(p.weeks):
            check_ids(week.topics, ("study_paths", i, "weeks", w, "topics"))
            check_ids(week.sections, ("study_paths", i, "weeks", w, "sections"), "section")
            check_ids(week.roles, ("study_paths", i, "weeks", w, "roles"), "role")
            for k, track in enumerate(week.tracks):
                check_ids(track.topics, ("study_paths", i, "weeks", w, "tracks", k, "topics"))
    for i, g in enumerate(book.checklist):
        for j, item in enumerate(g.items):
            if not isinstance(item, str):
                check_ids(item.topics, ("checklist", i, "items", j, "topics"))
    ids = [item.id for g in book.checklist for item in g.items if not isinstance(item, str)]
    if len(set(ids)) != len(ids):
        col.add(book_path, book_lines.get("checklist", 1), "checklist", "checklist item ids must be unique")
    if len({r.id for r in book.roles}) != len(book.roles):
        col.add(book_path, book_lines.get("roles", 1), "roles", "role ids must be unique")
    if len({p.id for p in book.study_paths}) != len(book.study_paths):
        col.add(book_path, book_lines.get("study_paths", 1), "study_paths", "study path ids must be unique")

    for t in written.values():
        check_topic(t, book, col, known, written, roles, unknown)
    check_cycles(written, col)
    for s in book.sections:
        doc = parse(s.overview)
        first = section_lines[s.id].get("overview:value", 1)
        for link in doc.links:
            if link.target not in known:
                col.add(s.source, first + link.line, "overview", unknown(link.target))
        check_math(doc, s.source, first, "overview", col)
        check_images(doc, s.source, first, book.root, col)
    texts = [("overview", book.overview, ("overview",)), ("how_to_use", book.how_to_use, ("how_to_use",))]
    texts += [(f"checklist[{i}].items[{j}]", item, ("checklist", i, "items", j)) if isinstance(item, str) else
              (f"checklist[{i}].items[{j}].text", item.text, ("checklist", i, "items", j, "text"))
              for i, g in enumerate(book.checklist) for j, item in enumerate(g.items)]
    texts += [(f"roles[{i}].critical_topics[{j}].note", c.note, ("roles", i, "critical_topics", j, "note"))
              for i, r in enumerate(book.roles) for j, c in enumerate(r.critical_topics)
              if not isinstance(c, str) and c.note]
    texts += [(f"study_paths[{i}].weeks[{w}].focus", week.focus, ("study_paths", i, "weeks", w, "focus"))
              for i, p in enumerate(book.study_paths) for w, week in enumerate(p.weeks) if week.focus]
    for field, text, loc in texts:
        doc = parse(text)
        key = ".".join(map(str, loc))
        first = book_lines.get(key + ":value", line_for(book_lines, loc)) - (1 if key + ":value" not in book_lines else 0)
        for link in doc.links:
            if link.target not in known:
                col.add(book_path, first + link.line, field, unknown(link.target))
        check_math(doc, book_path, first, field, col)
        check_images(doc, book_path, first, book.root, col)


# `$…$` left in rendered text: the math plugin did not take it (usually a digit or space right after the
# closing `$`, or a space inside the opening one). "$5 and $10" (a digit after the opening $) is money.
_STRAY_MATH = re.compile(r"(?<![\\\w])\$(?=[^\s$\d])[^$\n]*?[^\s\\$]\$")


def check_math(doc, path: Path, first: int, field: str, col: Collector) -> None:
    for tok in doc.tokens:
        if tok.type == "inline":
            for child in tok.children or []:
                stray = _STRAY_MATH.search(child.content) if child.type == "text" else None
                if stray:
                    col.add(path, first + (tok.map[0] if tok.map else 0), field,
                            f"math {stray.group()} is not recognised as math and would print as text (a digit or "
                            "letter right after the closing $?); reword, e.g. with a space or punctuation after it")
    for m in doc.math:
        try:
            mathml(m.latex, m.display)
        except Exception as e:  # latex2mathml raises many exception types
            col.add(path, first + m.line, field, f"math ${m.latex}$ cannot be rendered: {type(e).__name__}: {e}")


def check_images(doc, path: Path, first: int, root: Path, col: Collector) -> None:
    for img in doc.images:
        try:
            resolve_media(img.src, path.parent, root)
        except ValueError as e:
            col.add(path, first + img.line, "image", str(e))


def _anchors(t: Topic) -> set[str]:
    qids = tuple(q.id for q in t.questions)
    return set(qids) | {slug for _, _, slug in parse(t.body, qids).headings}


def check_topic(t: Topic, book: Book, col: Collector, known: dict, written: dict, roles: set, unknown) -> None:
    L = t.lines
    qids = tuple(q.id for q in t.questions)
    body = parse(t.body, qids)
    texts = [("", t.body, t.body_line, body)]  # (field, text, first line, doc)
    for i, q in enumerate(t.questions):
        texts.append((f"questions[{i}].a", q.a, L.get(f"questions.{i}.a:value", 1), parse(q.a)))
        texts.append((f"questions[{i}].q", q.q, L.get(f"questions.{i}.q:value", 1), parse(q.q)))
        texts.append((f"questions[{i}].short", q.short, L.get(f"questions.{i}.short:value", 1), parse(q.short)))
    for i, p in enumerate(t.pitfalls):
        texts.append((f"pitfalls[{i}]", p, L.get(f"pitfalls.{i}:value", 1), parse(p)))
    for i, c in enumerate(t.cloze):
        texts.append((f"cloze[{i}].text", c.text, L.get(f"cloze.{i}.text:value", 1), parse(c.text)))
    texts.append(("summary", t.summary, L.get("summary:value", 1), parse(t.summary)))

    for field, _, first, doc in texts:
        for link in doc.links:
            line = first + link.line
            if link.target not in known:
                col.add(t.source, line, field, unknown(link.target))
            elif link.anchor and link.target in written and link.anchor not in _anchors(written[link.target]):
                col.add(t.source, line, field, f"topic:{link.target}#{link.anchor}: no heading or question with that anchor")
        check_math(doc, t.source, first, field, col)
        check_images(doc, t.source, first, book.root, col)

    for i, tid in enumerate(t.prerequisites):
        if tid not in known:
            col.add(t.source, L.get(f"prerequisites.{i}", 1), f"prerequisites[{i}]", unknown(tid))
        elif tid == t.id:
            col.add(t.source, L.get(f"prerequisites.{i}", 1), f"prerequisites[{i}]", "a topic cannot require itself")
    for i, rid in enumerate(t.roles):
        if rid not in roles:
            col.add(t.source, L.get(f"roles.{i}", 1), f"roles[{i}]", f"unknown role {rid!r}; book.yaml declares: {', '.join(sorted(roles))}")
    check_cloze(t, col)
    seen: set[str] = set()
    for i, q in enumerate(t.questions):
        if q.id in seen:
            col.add(t.source, L.get(f"questions.{i}.id", 1), f"questions[{i}].id", f"duplicate question id {q.id!r}")
        seen.add(q.id)
    check_minimums(t, body, book, col)


_CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}", re.S)


def check_cloze(t: Topic, col: Collector) -> None:
    """Anki cloze syntax, checked before Anki sees it: at least one {{cN::…}} deletion, every {{ closed,
    no deletion inside another, numbers from 1, unique ids."""
    seen: set[str] = set()
    for i, c in enumerate(t.cloze):
        line = t.lines.get(f"cloze.{i}.text:value", t.lines.get(f"cloze.{i}", 1))
        where = f"cloze[{i}].text"
        if c.id in seen:
            col.add(t.source, t.lines.get(f"cloze.{i}.id", line), f"cloze[{i}].id", f"duplicate cloze id {c.id!r}")
        seen.add(c.id)
        deletions = _CLOZE.findall(c.text)
        rest = _CLOZE.sub("", c.text)
        if not deletions:
            col.add(t.source, line, where, "needs at least one {{c1::…}} deletion")
        elif "{{" in rest or "}}" in rest:
            col.add(t.source, line, where, "unbalanced or nested cloze marks: each {{cN:: needs its own closing }}")
        elif any(d[1].count("{") != d[1].count("}") for d in deletions):
            col.add(t.source, line, where, "braces inside a deletion do not balance: a TeX `}}` closes the deletion "
                                           "early, so write `} }`")
        elif any(not d[1].strip() for d in deletions):
            col.add(t.source, line, where, "an empty deletion {{cN::}} hides nothing")
        elif min(int(d[0]) for d in deletions) != 1:
            col.add(t.source, line, where, "cloze numbers start at c1")


def check_minimums(t: Topic, body, book: Book, col: Collector) -> None:
    """The guide's minimums, reported as errors so nothing half-written ships."""
    for field, msg in shortfalls(t, body, book.minimums):
        dotted = re.sub(r"\[(\d+)\]", r".\1", field)
        line = line_for(t.lines, tuple(dotted.split("."))) if field else t.body_line
        col.add(t.source, line, field, msg)


def shortfalls(t: Topic, body, m) -> list[tuple[str, str]]:
    """(field, message) for each way a written topic falls short of the guide. Shared with `stats`."""
    out: list[tuple[str, str]] = []
    words = {Kind.topic: m.words, Kind.case_study: m.case_study_words, Kind.cheat_sheet: m.cheat_sheet_words}[t.kind]
    if body.words < words:
        out.append(("", f"body has {body.words} words; the guide asks for at least {words} (code not counted)"))
    if t.kind is Kind.topic:
        runnable = sum(c.runs for c in body.code)
        if runnable < m.examples:
            out.append(("", f"body has {runnable} runnable ```python example(s); at least {m.examples} needed"))
    if t.kind is Kind.case_study:
        have = {h[1].strip().lower() for h in body.headings if h[0] == 2}
        missing = [h for h in CASE_STUDY_HEADINGS if h.lower() not in have]
        if missing:
            out.append(("", "case study lacks the template's ## headings: " + ", ".join(missing)))
    nq = m.cheat_sheet_questions if t.kind is Kind.cheat_sheet else m.questions
    if len(t.questions) < nq:
        out.append(("questions", f"{len(t.questions)} questions; at least {nq} needed"))
    seniors = sum(q.level is Level.senior for q in t.questions)
    if t.kind is not Kind.cheat_sheet and t.questions and seniors < m.senior_questions:
        out.append(("questions", f"{seniors} senior question{'s' * (seniors != 1)}; at least {m.senior_questions} "
                                 "needed (past the textbook, answered with numbers)"))
    levels = {q.level for q in t.questions}
    need_levels = 3 if t.kind is Kind.topic else 2
    if t.questions and len(levels) < min(need_levels, len(t.questions)):
        out.append(("questions", f"levels not mixed: only {', '.join(sorted(lv.value for lv in levels))}"))
    for i, q in enumerate(t.questions):
        n = _answer_words(q.a)
        if not m.answer_words_min <= n <= m.answer_words_max:
            out.append((f"questions[{i}].a", f"answer has {n} words; the guide asks for {m.answer_words_min}–{m.answer_words_max}"))
        s = short_words(q.short)
        if s > m.short_words_max:
            out.append((f"questions[{i}].short", f"short answer has {s} words; the guide asks for at most {m.short_words_max}"))
    if t.kind is not Kind.cheat_sheet and len(t.pitfalls) < m.pitfalls:
        out.append(("pitfalls", f"{len(t.pitfalls)} pitfalls; at least {m.pitfalls} needed"))
    if t.kind is Kind.cheat_sheet and len(t.cloze) < m.cheat_sheet_cloze:
        out.append(("cloze", f"{len(t.cloze)} cloze cards; at least {m.cheat_sheet_cloze} needed (formulas, numbers, "
                             "defaults to memorise)"))
    if len(t.further_reading) < m.references:
        out.append(("further_reading", f"{len(t.further_reading)} references; at least {m.references} needed"))
    if len(body.links) < m.links:
        out.append(("", f"body has {len(body.links)} topic: cross-references; at least {m.links} needed"))
    return out


_SHORT_WORD = re.compile(r"[^\W_](?:[\w'’-]|[.,](?=\d))*")  # "0.5" and "1,000" are one word each


def short_words(text: str) -> int:
    """Words of a `short` answer as a reader counts them: a formula or a code span is one word."""
    n = 0
    for tok in parse(text).tokens:
        for child in tok.children or []:
            n += len(_SHORT_WORD.findall(child.content)) if child.type == "text" else child.type in (
                "math_inline", "math_inline_double", "code_inline")
    return n


def _answer_words(text: str) -> int:
    doc = parse(text)
    return doc.words + sum(len(c.code.split()) for c in doc.code)


def check_cycles(written: dict[str, Topic], col: Collector) -> None:
    """Report each prerequisite cycle once, at the topic where the walk closes it."""
    state: dict[str, int] = {}
    reported: set[frozenset] = set()

    def visit(tid: str, stack: list[str]) -> None:
        state[tid] = 1
        stack.append(tid)
        for i, dep in enumerate(written[tid].prerequisites):
            if dep not in written:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    t = written[tid]
                    col.add(t.source, t.lines.get(f"prerequisites.{i}", 1), f"prerequisites[{i}]",
                            "prerequisite cycle: " + " -> ".join(cycle))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[tid] = 2

    for tid in written:
        if tid not in state:
            visit(tid, [])
