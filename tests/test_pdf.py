"""PDF cheat sheets and question books, checked with pypdf and rendered with poppler's pdftoppm."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import CONTENT, run
from mlprep.builders.pdf import split_boxes
from mlprep.loader import load_book
from schemas.models import Kind

SHEETS = [t for t in load_book(CONTENT)[0].topics() if t.kind is Kind.cheat_sheet]


@pytest.fixture(scope="module", params=["a4", "letter"])
def real_pdfs(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp(f"pdf-{request.param}")
    run("--content", str(CONTENT), "--out", str(out), "-q", "build", "pdf", "--paper", request.param, check=True)
    return out / "pdf"


def test_the_five_sheets_exist_and_fit_their_budget(real_pdfs):
    assert {t.id for t in SHEETS} == {"transformer_cheat_sheet", "ml_algorithm_selection", "rag_design_checklist",
                                      "llm_finetuning_decision_tree", "common_interview_traps"}
    total = 0
    for t in SHEETS:
        reader = PdfReader(real_pdfs / f"{t.id}.pdf")
        assert 1 <= len(reader.pages) <= t.pages, (t.id, len(reader.pages))
        box = reader.pages[0].mediabox
        assert box.width > box.height  # landscape
        total += len(reader.pages)
    assert len(PdfReader(real_pdfs / "all-cheat-sheets.pdf").pages) == total


def test_paper_size(real_pdfs):
    box = PdfReader(real_pdfs / "transformer_cheat_sheet.pdf").pages[0].mediabox
    size = (round(float(box.width)), round(float(box.height)))
    assert size in ((842, 595), (792, 612))  # A4 or US Letter, landscape, in points
    expected = (842, 595) if real_pdfs.parent.name.startswith("pdf-a4") else (792, 612)
    assert size == expected


def test_text_holds_every_box_title_and_footer(real_pdfs):
    for t in SHEETS:
        text = " ".join(p.extract_text() for p in PdfReader(real_pdfs / f"{t.id}.pdf").pages)
        flat = re.sub(r"\s+", " ", text)
        for title, _ in split_boxes(t.body):
            plain = re.sub(r"[`*$\\]", "", title)
            words = [w for w in re.findall(r"[A-Za-z]{3,}", plain)]
            assert all(w in flat for w in words), (t.id, title)
        assert "ML Interview Prep 0.1.0" in flat and "Page 1 of" in flat and t.title in flat


def _fonts(reader: PdfReader) -> list[tuple[str, bool]]:
    out = []
    for page in reader.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            desc = target.get("/FontDescriptor")
            desc = desc.get_object() if desc else {}
            out.append((str(font.get("/BaseFont")), any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    return out


def test_all_fonts_are_embedded(real_pdfs):
    for name in [f"{t.id}.pdf" for t in SHEETS] + ["questions-ai-engineer.pdf"]:
        fonts = _fonts(PdfReader(real_pdfs / name))
        assert fonts and all(embedded for _, embedded in fonts), (name, fonts)
        assert all(re.match(r"/[A-Z]{6}\+Sheet-(Sans|Mono)", f) for f, _ in fonts), fonts  # only the bundled fonts


def test_question_books_per_role(real_pdfs):
    book, _ = load_book(CONTENT)
    role = book.role("data-scientist")
    expected = sum(len(t.questions) for t in book.topics() if role.id in t.roles or t.id in role.critical_topics)
    text = " ".join(p.extract_text() for p in PdfReader(real_pdfs / "questions-data-scientist.pdf").pages)
    assert "Part 1 — Questions" in text and "Part 2 — Answers" in text
    assert text.index("Part 1 — Questions") < text.index("Part 2 — Answers")
    assert f"{expected} questions from" in re.sub(r"\s+", " ", text)


def test_every_sheet_page_renders_to_png(real_pdfs, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm (Debian poppler-utils) is not installed; make test installs it")
    for t in SHEETS:
        prefix = tmp_path / t.id
        subprocess.run(["pdftoppm", "-r", "40", "-png", str(real_pdfs / f"{t.id}.pdf"), str(prefix)], check=True)
        pngs = sorted(tmp_path.glob(f"{t.id}-*.png"))
        assert len(pngs) == len(PdfReader(real_pdfs / f"{t.id}.pdf").pages)
        assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in pngs)


def test_overflowing_sheet_fails_the_build_naming_it(good, tmp_path):
    out = tmp_path / "out"
    run("--content", str(good), "--out", str(out), "-q", "build", "pdf", check=True)
    before = (out / "pdf" / "traps_sheet.pdf").read_bytes()
    sheet = good / "01_Advanced" / "traps_sheet.md"
    filler = "\n".join(f"## Box {i}\n\n" + "Precision recall calibration leakage drift. " * 40 for i in range(40))
    sheet.write_text(sheet.read_text(encoding="utf-8") + "\n" + filler + "\n", encoding="utf-8")
    proc = run("--content", str(good), "--out", str(out), "build", "pdf")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    m = re.search(r"cheat sheet traps_sheet \(traps_sheet\.md\) overflows its 1-page budget by (\d+) pages? on A4", proc.stderr)
    assert m and int(m.group(1)) >= 1, proc.stderr
    assert (out / "pdf" / "traps_sheet.pdf").read_bytes() == before  # last good output intact


def _path_ops(pdf: Path) -> int:
    reader = PdfReader(pdf)
    data = b"".join(p.get_contents().get_data() for p in reader.pages)
    return len(re.findall(rb"(?<![A-Za-z])[cl]\n", data))


def test_math_is_vector_graphics_not_raw_latex(good, tmp_path):
    sheet = good / "01_Advanced" / "traps_sheet.md"
    text = sheet.read_text(encoding="utf-8")
    formula = "$$\n\\sum_{i=1}^{n} \\frac{e^{z_i}}{\\sqrt{\\sigma^2 + \\epsilon}}\n$$\n"
    sheet.write_text(text.replace("Use PR-AUC when positives are rare.", "Use PR-AUC when positives are rare.\n\n" + formula),
                     encoding="utf-8")
    run("--content", str(good), "--out", str(tmp_path / "with"), "-q", "build", "pdf", check=True)
    sheet.write_text(text, encoding="utf-8")
    run("--content", str(good), "--out", str(tmp_path / "without"), "-q", "build", "pdf", check=True)
    with_math = tmp_path / "with" / "pdf" / "traps_sheet.pdf"
    extracted = " ".join(p.extract_text() for p in PdfReader(with_math).pages)
    assert "\\frac" not in extracted and "\\sum" not in extracted and "sigma" not in extracted
    assert _path_ops(with_math) > _path_ops(tmp_path / "without" / "pdf" / "traps_sheet.pdf") + 20
