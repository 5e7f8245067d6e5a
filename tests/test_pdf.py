"""PDF cheat sheets and question books, checked with pypdf and rendered with poppler's pdftoppm."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import real_book, run
from mlprep.builders.pdf import split_boxes
from schemas.models import Kind

SHEETS = [t for t in real_book().topics() if t.kind is Kind.cheat_sheet]


@pytest.fixture(scope="module")
def real_pdfs(real_build) -> Path:
    """The full build's PDFs (A4, the default): sheets, the combined sheets and the question books."""
    return real_build / "pdf"


_DOCS: dict[str, dict] = {}


def sheet_docs(paper: str) -> dict:
    """Each sheet laid out by the builder's own Renderer on one paper, once per session."""
    if paper not in _DOCS:
        from mlprep.builders import Options
        from mlprep.builders.pdf import Renderer

        renderer = Renderer(real_book(), Options(paper=paper))
        _DOCS[paper] = {t.id: renderer.sheet(t) for t in SHEETS}
    return _DOCS[paper]


@pytest.fixture(scope="module", params=["a4", "letter"])
def paper(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def sheet_pdfs(paper, real_pdfs, tmp_path_factory) -> Path:
    """The sheets on both papers: A4 as the build wrote them, Letter written here from the same layout code
    (building every question book a second time, on Letter, would double the suite for no new check)."""
    if paper == "a4":
        return real_pdfs
    out = tmp_path_factory.mktemp("pdf-letter")
    for name, doc in sheet_docs(paper).items():
        (out / f"{name}.pdf").write_bytes(doc.write_pdf())
    return out


def test_the_five_sheets_exist_and_fit_their_budget(sheet_pdfs, real_pdfs):
    assert {t.id for t in SHEETS} == {"transformer_cheat_sheet", "ml_algorithm_selection", "rag_design_checklist",
                                      "llm_finetuning_decision_tree", "common_interview_traps"}
    total = 0
    for t in SHEETS:
        reader = PdfReader(sheet_pdfs / f"{t.id}.pdf")
        assert 1 <= len(reader.pages) <= t.pages, (t.id, len(reader.pages))
        box = reader.pages[0].mediabox
        assert box.width > box.height  # landscape
        total += len(PdfReader(real_pdfs / f"{t.id}.pdf").pages)
    assert len(PdfReader(real_pdfs / "all-cheat-sheets.pdf").pages) == total


def test_letter_paper_from_the_cli(good, tmp_path):
    run("--content", str(good), "--out", str(tmp_path), "-q", "build", "pdf", "--paper", "letter", check=True)
    for pdf in (tmp_path / "pdf").glob("*.pdf"):
        box = PdfReader(pdf).pages[0].mediabox
        assert sorted((round(float(box.width)), round(float(box.height)))) == [612, 792], pdf.name


def test_paper_size(sheet_pdfs, paper):
    box = PdfReader(sheet_pdfs / "transformer_cheat_sheet.pdf").pages[0].mediabox
    size = (round(float(box.width)), round(float(box.height)))
    assert size == {"a4": (842, 595), "letter": (792, 612)}[paper]  # landscape, in points


def test_text_holds_every_box_title_and_footer(sheet_pdfs):
    for t in SHEETS:
        text = " ".join(p.extract_text() for p in PdfReader(sheet_pdfs / f"{t.id}.pdf").pages)
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
    book = real_book()
    role = book.role("data-scientist")
    topics = [t for t in book.topics() if role.id in t.roles or t.id in role.critical_ids()]
    expected = sum(len(t.questions) for t in topics)
    reader = PdfReader(real_pdfs / "questions-data-scientist.pdf")
    # poppler's text extraction: pypdf's takes over a minute on a book of this size
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(real_pdfs / "questions-data-scientist.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    text = re.sub(r"\s+", " ", text)
    assert f"{expected} questions from" in text
    outline = [o.title if not isinstance(o, list) else [x.title for x in o] for o in reader.outline]
    assert outline[1] == "Part 1 — Questions" and outline[3] == "Part 2 — Answers"
    assert outline[2] == outline[4] == [f"§ {book.number_of(t.id)} {t.title}" for t in topics]
    first = book.number_of(topics[0].id)
    assert text.index(f"{first}.1 ") < text.index("Part 2 — Answers") < text.rindex(f"{first}.1 ")


def test_every_sheet_page_renders_to_png(sheet_pdfs, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm (Debian poppler-utils) is not installed; make test installs it")
    for t in SHEETS:
        prefix = tmp_path / t.id
        subprocess.run(["pdftoppm", "-r", "40", "-png", str(sheet_pdfs / f"{t.id}.pdf"), str(prefix)], check=True)
        pngs = sorted(tmp_path.glob(f"{t.id}-*.png"))
        assert len(pngs) == len(PdfReader(sheet_pdfs / f"{t.id}.pdf").pages)
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


# --- professional print (issue 13) -------------------------------------------------------------

def _column_fill(pdf: Path, page: int, paper: str, tmp_path: Path) -> float:
    """Measured on the printed page itself: in each of the four columns, how far down the ink reaches
    within the text area, as a share of its height, averaged over the columns."""
    from PIL import Image

    from mlprep.builders.pdf import COLUMNS, GAP_MM, LANDSCAPE_MM, MARGINS_MM

    prefix = tmp_path / f"{pdf.stem}-{page}"
    subprocess.run(["pdftoppm", "-r", "50", "-gray", "-png", "-f", str(page), "-l", str(page), str(pdf), str(prefix)],
                   check=True)
    img = Image.open(next(tmp_path.glob(f"{prefix.name}*.png"))).convert("L")
    width_mm, height_mm = LANDSCAPE_MM[paper]
    px = img.size[0] / width_mm
    top, bottom = MARGINS_MM[0] * px, (height_mm - MARGINS_MM[2]) * px
    col = ((width_mm - MARGINS_MM[1] - MARGINS_MM[3]) - (COLUMNS - 1) * GAP_MM) / COLUMNS
    fills = []
    for c in range(COLUMNS):
        x0 = (MARGINS_MM[3] + c * (col + GAP_MM)) * px
        region = img.crop((int(x0), int(top), int(x0 + col * px), int(bottom)))
        rows = [y for y in range(region.size[1]) if region.crop((0, y, region.size[0], y + 1)).getextrema()[0] < 160]
        fills.append((max(rows) + 1) / region.size[1] if rows else 0.0)
    return sum(fills) / len(fills)


def test_sheets_fill_their_pages(sheet_pdfs, paper, tmp_path):
    for t in SHEETS:
        pdf = sheet_pdfs / f"{t.id}.pdf"
        pages = len(PdfReader(pdf).pages)
        fills = [_column_fill(pdf, p, paper, tmp_path) for p in range(1, pages + 1)]
        assert all(f >= 0.85 for f in fills[:-1]) and fills[-1] >= 0.60, (t.id, paper, fills)


def _boxes(box):
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def test_nothing_leaves_its_column_on_any_sheet(paper):
    """From WeasyPrint's own layout boxes: no line, table, code or formula extends past its column."""
    for t in SHEETS:
        doc = sheet_docs(paper)[t.id]
        for page in doc.pages:
            root = page._page_box
            columns = [b for b in _boxes(root) if getattr(b, "element_tag", None) == "div"
                       and (b.element.get("class") or "") == "boxes" and b.width < root.width / 2]
            assert columns, t.id
            for column in columns:
                edge = column.position_x + column.width + 1
                wide = [getattr(b, "text", None) or getattr(b, "element_tag", "") for b in _boxes(column)
                        if b.position_x + b.margin_width() > edge]
                assert not wide, (t.id, paper, wide[:3])


def test_printed_math_never_drops_below_6pt():
    """Every formula a sheet or question book prints, drawn as the PDF draws it: no glyph (sub- and
    superscripts, nested fractions included) smaller than 8 px = 6 pt."""
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    import ziamath

    from mlprep.markdown import _zia, mathml, parse

    def glyph_sizes(node):
        yield getattr(node, "glyphsize", 99)
        for child in getattr(node, "nodes", []):
            yield from glyph_sizes(child)

    book = real_book()
    texts = [t.body for t in SHEETS] + [x for t in book.topics() for q in t.questions for x in (q.q, q.a)]
    formulas = {(m.latex, m.display) for text in texts for m in parse(text).math}
    smallest = min(min(glyph_sizes(_zia(ziamath, mathml(tex, display, for_print=True), 10.0)[0].node))
                   for tex, display in formulas)
    assert smallest >= 8 - 1e-9, smallest
    nested = _zia(ziamath, mathml(r"\frac{a}{\frac{b}{\frac{c}{d}}}", False, True), 10.0)[0]
    assert min(glyph_sizes(nested.node)) >= 8 - 1e-9


def test_box_titles_are_not_renumbered_and_code_checks_are_not_printed(good, tmp_path):
    sheet = good / "01_Advanced" / "traps_sheet.md"
    text = sheet.read_text(encoding="utf-8")
    sheet.write_text(text + "\n## 1. Setup\n\nFirst.\n\n## 2. Run\n\n```python\nx = 1\nassert x == 1\nprint(x)\n```\n",
                     encoding="utf-8")
    run("--content", str(good), "--out", str(tmp_path / "o"), "-q", "build", "pdf", check=True)
    flat = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(tmp_path / "o" / "pdf" / "traps_sheet.pdf").pages))
    assert "1. Setup" in flat and "2. Run" in flat and "1. Run" not in flat
    assert "print(x)" in flat and "assert x" not in flat


def test_topic_pointers_print_their_number_and_sheets_link_online(good, tmp_path):
    run("--content", str(good), "--out", str(tmp_path / "a"), "-q", "build", "pdf", check=True)
    flat = " ".join(p.extract_text() for p in PdfReader(tmp_path / "a" / "pdf" / "traps_sheet.pdf").pages)
    assert "§ 1.1" in flat  # [attention](topic:attention_intro): section 1, first in its order
    book = good / "book.yaml"
    book.write_text(book.read_text(encoding="utf-8").replace("site_url: null", "site_url: https://prep.example.org/ml"),
                    encoding="utf-8")
    run("--content", str(good), "--out", str(tmp_path / "b"), "-q", "build", "pdf", check=True)
    reader = PdfReader(tmp_path / "b" / "pdf" / "traps_sheet.pdf")
    flat = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    assert "https://prep.example.org/ml/topics/traps_sheet.html" in flat
    uris = [a.get_object()["/A"].get("/URI") for p in reader.pages for a in p.get("/Annots", [])]
    assert "https://prep.example.org/ml/topics/attention_intro.html" in uris


def test_all_sheets_pdf_has_a_two_level_outline(real_pdfs):
    outline = PdfReader(real_pdfs / "all-cheat-sheets.pdf").outline
    sheets = [o for o in outline if not isinstance(o, list)]
    children = [o for o in outline if isinstance(o, list)]
    assert [s.title for s in sheets] == [t.title for t in SHEETS]
    assert len(children) == len(SHEETS) and all(len(c) >= 4 for c in children)
    first_boxes = [re.sub(r"[`*$\\]", "", title) for title, _ in split_boxes(SHEETS[0].body) if title]
    assert [c.title for c in children[0]][:2] == first_boxes[:2]


def test_question_blocks_keep_their_lines_and_space_grows_with_the_answer():
    from mlprep.builders import Options
    from mlprep.builders.pdf import Renderer, writing_lines

    book = real_book()
    t = next(x for x in book.topics() if x.questions and x.kind.value == "topic")
    doc = Renderer(book, Options()).question_part("questions", t=t)
    pages_of: dict[int, set[int]] = {}
    for number, page in enumerate(doc.pages):
        for b in _boxes(page._page_box):
            if getattr(b, "element_tag", None) == "div" and (b.element.get("class") or "") == "qblock":
                pages_of.setdefault(id(b.element), set()).add(number)
    assert len(pages_of) == len(t.questions) and all(len(p) == 1 for p in pages_of.values())
    assert writing_lines("word " * 40) == 6 and writing_lines("word " * 250) > writing_lines("word " * 120) > 6


def test_fast_glyph_path_draws_byte_identical_pdfs():
    """mlprep draws the math's glyph outlines with its own reader of ziafont's paths instead of
    WeasyPrint's general one; the PDF must be byte for byte what WeasyPrint alone writes, and the fast
    reader must be the one that ran."""
    import weasyprint.svg as wsvg
    from weasyprint import HTML

    from mlprep.builders import pdf
    from mlprep.markdown import math_svg

    formulas = [r"\frac{QK^\top}{\sqrt{d_k}}", r"\left(\sum_{i=1}^n x_i\right)^2", r"\binom{n}{k}",
                r"\mathcal{L}_{\text{DPO}} = -\log \sigma\left(\beta \log \frac{\pi_\theta(y_w)}{\pi_{\text{ref}}(y_w)}\right)",
                r"\begin{pmatrix}a & b\\ c & d\end{pmatrix}", r"\|x\|_2 \le \epsilon"]
    html = "<p>" + " and ".join(math_svg(f, d, 13) for f in formulas for d in (False, True)) + "</p>"
    html += '<svg width="20" height="20"><path d="m 1 1 l 5 0 l 0 5 z" fill="red"/></svg>'  # the general parser's
    pdf._install_glyph_path()
    general = pdf._weasy_path
    calls = {"fast": 0}

    def counted(svg, node, font_size):
        calls["fast"] += 1
        return pdf.glyph_path(svg, node, font_size)

    def write() -> bytes:
        doc = HTML(string=html).render()
        doc.metadata.created = doc.metadata.modified = "2026-01-01"
        return doc.write_pdf()

    wsvg.TAGS["path"] = counted
    try:
        fast = write()
        wsvg.TAGS["path"] = general
        slow = write()
    finally:
        wsvg.TAGS["path"] = pdf.glyph_path
    assert calls["fast"] > 100  # every glyph of every formula went through the fast reader
    assert fast == slow
