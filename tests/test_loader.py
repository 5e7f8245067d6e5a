"""Models and loader: every kind of bad input gets file, line and field, exit 1, no traceback."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOTS, run
from mlprep.errors import ContentError
from mlprep.loader import load_book

VEC = "00_Basics/vectors_basics.md"
ATT = "01_Advanced/attention_intro.md"


def edit(root: Path, rel: str, old: str, new: str) -> None:
    p = root / rel
    text = p.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {rel}"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(root: Path, rel: str, needle: str) -> int:
    for i, line in enumerate((root / rel).read_text(encoding="utf-8").split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def validate(root: Path):
    proc = run("--content", ".", "--out", str(root.parent / "out"), "validate", cwd=root)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_good_fixture_loads():
    book, warnings = load_book(ROOTS / "good")
    assert [t.id for t in book.topics()] == ["vectors_basics", "attention_intro", "traps_sheet"]
    assert book.sections[0].planned == ["planned_topic"]
    assert book.topic("attention_intro").prerequisites == ["vectors_basics"]
    assert [t.id for t in book.required_by("vectors_basics")] == ["attention_intro"]
    assert warnings == []


def test_good_fixture_validates_via_cli(good):
    proc = validate(good)
    assert proc.returncode == 0, proc.stderr


# (file, mutate(root) -> None, expected message pattern with {line})
def _write(rel: str, data: bytes):
    def mutate(root: Path) -> None:
        (root / rel).write_bytes(data)
    return mutate


CASES = {
    "empty-file": (
        "00_Basics/empty_one.md", _write("00_Basics/empty_one.md", b""),
        r"00_Basics/empty_one\.md:1: empty file"),
    "missing-closing-fence": (
        "00_Basics/unclosed.md", _write("00_Basics/unclosed.md", b"---\ntitle: X\nsummary: y\n\n## Body\n"),
        r"00_Basics/unclosed\.md:1: front matter opened on line 1 is never closed"),
    "no-front-matter": (
        "00_Basics/plain.md", _write("00_Basics/plain.md", b"# Just markdown\n"),
        r"00_Basics/plain\.md:1: missing front matter"),
    "non-utf8": (
        "00_Basics/latin.md", _write("00_Basics/latin.md", b"---\ntitle: Caf\xe9\n---\nbody\n"),
        r"00_Basics/latin\.md:2: not valid UTF-8 \(byte 0xe9 at column 11\)"),
    "tab-in-yaml": (
        "00_Basics/tabbed.md", _write("00_Basics/tabbed.md", b"---\ntitle: T\nroles:\n\t- ai-engineer\n---\nbody\n"),
        r"00_Basics/tabbed\.md:4: YAML syntax error at column 1: tab character in YAML; indent with spaces"),
    "yaml-syntax": (
        "00_Basics/broken.md", _write("00_Basics/broken.md", b"---\ntitle: T\nsummary: [unclosed\n---\nbody\n"),
        r"00_Basics/broken\.md:3: YAML syntax error: a \[ list opened here is never closed \(the parser stopped at line 4"),
}


@pytest.mark.parametrize("case", CASES)
def test_broken_files(good, case):
    rel, mutate, pattern = CASES[case]
    mutate(good)
    edit(good, "00_Basics/section.yaml", "  - planned_topic", f"  - planned_topic\n  - {Path(rel).stem}")
    proc = validate(good)
    assert proc.returncode == 1
    assert re.search(pattern, proc.stderr), proc.stderr


def test_bom_and_crlf_are_handled(good):
    p = good / VEC
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    proc = validate(good)
    assert proc.returncode == 0, proc.stderr
    book, _ = load_book(good)
    assert book.topic("vectors_basics").title == "Vectors Basics"


FIELD_CASES = {
    "unknown-field": (VEC, "summary: What", "sumary: What", "sumary:",
                      r"sumary: unknown field \(did you mean 'summary'\?\)"),
    "missing-answer": (VEC, "    a: |\n      It measures alignment scaled by length: $a \\cdot b = \\lVert a \\rVert \\lVert b \\rVert \\cos\\theta$.\n", "",
                       "- id: what-is-dot-product", r"questions\[0\]\.a: field required"),
    "missing-short": (VEC, "    short: Alignment scaled by the two lengths.\n", "", "- id: what-is-dot-product",
                      r"questions\[0\]\.short: field required"),
    "long-short": (VEC, "short: Alignment scaled by the two lengths.",
                   "short: Alignment scaled by the two lengths, " + "and more " * 12 + "words.", "short: Alignment",
                   r"questions\[0\]\.short: short answer has 31 words; the guide asks for at most 30"),
    "bad-level": (ATT, "    level: senior", "    level: expert", "level: expert",
                  r"questions\[1\]\.level: input should be 'junior', 'mid' or 'senior', got 'expert'"),
    "bad-difficulty": (VEC, "difficulty: foundational", "difficulty: easy", "difficulty: easy",
                       r"difficulty: input should be"),
    "unknown-link": (ATT, "[dot products](topic:vectors_basics#intuition)", "[dot products](topic:vector_basics)",
                     "[dot products]", r"unknown topic 'vector_basics' \(did you mean 'vectors_basics'\?\)"),
    "missing-anchor": (ATT, "topic:vectors_basics#intuition", "topic:vectors_basics#nowhere", "#nowhere",
                       r"topic:vectors_basics#nowhere: no heading or question with that anchor"),
    "unknown-prerequisite": (ATT, "prerequisites: [vectors_basics]", "prerequisites: [matrices]", "prerequisites:",
                             r"prerequisites\[0\]: unknown topic 'matrices'"),
    "unknown-role": (ATT, "roles: [ai-engineer]", "roles: [ai-engineer, wizard]", "roles:",
                     r"roles\[1\]: unknown role 'wizard'"),
    "duplicate-question": (ATT, "  - id: complexity", "  - id: why-scale  # again", "# again",
                           r"questions\[1\]\.id: duplicate question id 'why-scale'"),
    "bad-question-id": (ATT, "  - id: complexity", "  - id: Complexity Q", "Complexity Q",
                        r"questions\[1\]\.id: must be lower-case kebab-case"),
    "bad-url": (ATT, 'url: "https://arxiv.org/abs/1706.03762"', 'url: "arxiv 1706.03762"', "Attention Is All",
                r"further_reading\[0\]\.url: must be an http\(s\) URL with no spaces, quotes, angle brackets or backslashes, got 'arxiv 1706.03762'"),
    "bad-math": (ATT, "Quadratic, $O(n^2 d)$", "Quadratic, $\\foo{n}$", "Quadratic",
                 r"questions\[1\]\.a: math .* unsupported LaTeX command \\foo"),
    "duplicate-key": (VEC, "tags: [linear-algebra, vectors]", "tags: [linear-algebra, vectors]\ntags: [x]", "tags: [x]",
                      r"tags: duplicate key"),
    "cheat-sheet-without-pages": ("01_Advanced/traps_sheet.md", "pages: 1\n", "", "kind: cheat_sheet",
                                  r"pages: a cheat sheet needs a pages budget"),
}


@pytest.mark.parametrize("case", FIELD_CASES)
def test_field_errors_name_file_line_and_field(good, case):
    rel, old, new, needle, pattern = FIELD_CASES[case]
    edit(good, rel, old, new)
    line = line_of(good, rel, needle.split("\n")[0])
    proc = validate(good)
    assert proc.returncode == 1, proc.stderr
    hit = re.search(rf"^{re.escape(rel)}:(\d+): {pattern}", proc.stderr, re.M)
    assert hit, proc.stderr
    if case != "cheat-sheet-without-pages":  # a whole-model check points at the model's first line
        assert int(hit.group(1)) == line, proc.stderr


def test_every_problem_is_reported_at_once(good):
    edit(good, VEC, "summary: What", "sumary: What")
    edit(good, ATT, "prerequisites: [vectors_basics]", "prerequisites: [matrices]")
    edit(good, "01_Advanced/section.yaml", "  - traps_sheet", "  - traps_sheet\n  - traps_sheet")
    (good / "00_Basics" / "stray.md").write_bytes(b"")
    proc = validate(good)
    assert proc.returncode == 1
    for expected in ["00_Basics/vectors_basics.md:", "sumary: unknown field",
                     "01_Advanced/attention_intro.md:", "unknown topic 'matrices'",
                     "01_Advanced/section.yaml:", "'traps_sheet' is listed twice",
                     "00_Basics/section.yaml:", "stray.md is not listed in order",
                     "00_Basics/stray.md:1: empty file"]:
        assert expected in proc.stderr, (expected, proc.stderr)
    assert re.search(r"\d+ problems in", proc.stderr)


def test_prerequisite_cycle(good):
    edit(good, VEC, "prerequisites: []", "prerequisites: [traps_sheet]")
    with pytest.raises(ContentError) as e:
        load_book(good)
    msgs = [str(p) for p in e.value.problems]
    assert any("prerequisite cycle:" in m and "vectors_basics" in m and "attention_intro" in m for m in msgs), msgs


def test_unknown_study_path_and_critical_topics(good):
    edit(good, "book.yaml", "topics: [vectors_basics, attention_intro, planned_topic]",
         "topics: [vectors_basics, atention_intro]")
    edit(good, "book.yaml", "critical_topics: [vectors_basics]", "critical_topics: [nope]")
    proc = validate(good)
    assert proc.returncode == 1
    assert re.search(r"book\.yaml:\d+: study_paths\[0\]\.weeks\[0\]\.topics\[1\]: unknown topic 'atention_intro'", proc.stderr)
    assert re.search(r"book\.yaml:\d+: roles\[1\]\.critical_topics\[0\]: unknown topic 'nope'", proc.stderr)


def test_minimums_of_the_guide_are_enforced(good):
    """With the guide's default minimums, the tiny fixture topics fall short on every count."""
    text = (good / "book.yaml").read_text(encoding="utf-8")
    (good / "book.yaml").write_text(text.split("minimums:")[0], encoding="utf-8")
    proc = validate(good)
    assert proc.returncode == 1
    for expected in [f"{VEC}:", "words; the guide asks for at least 1000", "questions; at least 8 needed",
                     "pitfalls; at least 4 needed", "references; at least 3 needed",
                     "answer has", "the guide asks for 40–250", "0 senior questions; at least 2 needed"]:
        assert expected in proc.stderr, (expected, proc.stderr)


def test_duplicate_topic_id_across_sections(good):
    (good / "01_Advanced" / "vectors_basics.md").write_bytes((good / VEC).read_bytes())
    edit(good, "01_Advanced/section.yaml", "  - traps_sheet", "  - traps_sheet\n  - vectors_basics")
    proc = validate(good)
    assert proc.returncode == 1
    assert "is already listed in 00_Basics/section.yaml" in proc.stderr
    assert "topic id 'vectors_basics' is already used by" in proc.stderr


def test_real_content_is_valid():
    proc = run("validate")
    assert proc.returncode == 0, proc.stderr


def test_broken_section_yaml_does_not_cascade(good):
    (good / "01_Advanced" / "section.yaml").write_text(
        (good / "01_Advanced" / "section.yaml").read_text(encoding="utf-8") + "bogus: 1\n", encoding="utf-8")
    proc = validate(good)
    assert proc.returncode == 1
    assert re.search(r"^01_Advanced/section\.yaml:\d+: bogus: unknown field; allowed: title, overview, order$",
                     proc.stderr, re.M), proc.stderr
    assert "unknown topic" not in proc.stderr  # its topics still count as known
    assert "1 problem in" in proc.stderr
