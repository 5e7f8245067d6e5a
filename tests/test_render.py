"""Markdown rendering: math, code, escaping, topic: links and anchors, per target."""
from __future__ import annotations


from mlprep.markdown import parse, plain_text, render

TEXT = """## A heading with `code`

Inline $x^2 + y_i$ and a [link](topic:known#sec) and a [planned one](topic:planned).
Costs USD 5 and $5 and $10 stay text.

$$
\\frac{a}{b}
$$

```python
def f(x):
    return x + 1
```

<script>alert(1)</script> <b>bold?</b>
"""


def resolve(topic_id, anchor):
    return None if topic_id == "planned" else f"../topics/{topic_id}.html" + (f"#{anchor}" if anchor else "")


def test_math_is_mathml_for_site_and_mathjax_for_anki():
    html = render(TEXT, "site", resolve)
    assert ('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline" alttext="x^2 + y_i"><mrow><msup>'
            '<mi>x</mi><mn>2</mn></msup>') in html
    assert 'display="block" alttext="\\frac{a}{b}"><mrow><mfrac>' in html
    assert "$5 and $10 stay text" in html
    anki = render(TEXT, "anki", resolve)
    assert "\\(x^2 + y_i\\)" in anki and "\\[\\frac{a}{b}\\]" in anki
    assert "<math" not in anki


def test_math_is_svg_for_pdf():
    html = render("Inline $x^2$ here.", "pdf", resolve)
    assert "<svg" in html and "x^2" not in html


def test_code_is_highlighted_with_pygments():
    html = render(TEXT, "site", resolve)
    assert '<div class="highlight"><pre>' in html
    assert '<span class="k">def</span>' in html and '<span class="nf">f</span>' in html


def test_epub_code_is_left_for_pandoc():
    html = render(TEXT, "epub", resolve)
    assert '<pre class="sourceCode python"><code>def f(x):' in html


def test_raw_html_is_escaped():
    for target in ("site", "epub", "anki", "pdf"):
        html = render(TEXT, target, resolve)
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<b>" not in html


def test_javascript_links_are_not_rendered_as_links():
    html = render("[x](javascript:alert(1))", "site", resolve)
    assert 'href="javascript' not in html


def test_topic_links_resolve_per_target_and_planned_targets_are_not_links():
    html = render(TEXT, "site", resolve)
    assert '<a href="../topics/known.html#sec" class="xref">link</a>' in html
    assert '<span class="planned" title="Planned topic, not written yet">planned one</span>' in html
    assert "topic:" not in html


def test_heading_anchors_and_prefix():
    assert '<h2 id="a-heading-with-code">' in render(TEXT, "site", resolve)
    assert '<h2 id="t1--a-heading-with-code">' in render(TEXT, "epub", resolve, id_prefix="t1--")
    assert '<h3 id="a-heading-with-code">' in render(TEXT, "epub", resolve, heading_shift=1)


def test_heading_ids_are_unique_and_avoid_question_ids():
    doc = parse("## Intro\n\n## Intro\n\n## Why scale\n", ("why-scale",))
    assert [slug for _, _, slug in doc.headings] == ["intro", "intro-1", "why-scale-1"]


def test_parse_reports_links_code_and_words():
    doc = parse(TEXT)
    assert [(link.target, link.anchor) for link in doc.links] == [("known", "sec"), ("planned", None)]
    assert doc.code[0].runs and doc.code[0].line == 9
    assert not parse("```python norun\nx\n```\n").code[0].runs
    assert doc.words > 10 and "return" not in plain_text(TEXT)


def test_inline_render_drops_paragraph():
    assert render("Just *this*", "site", resolve, inline=True) == "Just <em>this</em>"


def test_faster_ziamath_style_copy_draws_the_same_svg():
    """mlprep replaces ziamath's deep copy of the parent style with a shallow one; the SVG must not change."""
    import dataclasses

    from mlprep.markdown import _zia, _ziamath, mathml

    ziamath = _ziamath()
    formulas = [r"\frac{QK^\top}{\sqrt{d_k}}", r"\mathbf{x}_i^{(t)}", r"\sum_{i=1}^n \hat{y}_i",
                r"\mathcal{L} = -\sum_k y_k \log p_k", r"\begin{pmatrix}a & b\\ c & d\end{pmatrix}"]
    fast = [_zia(ziamath, mathml(f, d, True), 13)[0].svg() for f in formulas for d in (False, True)]
    ziamath.styles.asdict = dataclasses.asdict
    try:
        slow = [_zia(ziamath, mathml(f, d, True), 13)[0].svg() for f in formulas for d in (False, True)]
    finally:
        ziamath.styles.asdict = lambda style: dict(style.__dict__)
    assert fast == slow


def test_skipped_height_pass_draws_the_same_svg():
    """mlprep skips ziamath's second layout of a row that has no stretchy operator beneath it; on every
    formula of the cheat sheets and on nested, stretched edge cases the SVG must not change."""
    import re
    from pathlib import Path

    from ziamath.nodes.mrow import Mrow

    from mlprep.markdown import _zia, _ziamath, mathml

    ziamath = _ziamath()
    sheets = "".join(p.read_text(encoding="utf-8") for p in Path("content").glob("09_*/*.md"))
    formulas = [m.strip() for m in re.findall(r"(?<![\\$])\$([^$\n]+?)\$(?!\d)", sheets)][:150]
    formulas += [r"\left(\frac{a}{b}\right)^{\left[\frac{1}{2}\right]}", r"\|x\|_2 = \sqrt{\sum_i x_i^2}",
                 r"\frac{\frac{1}{1+e^{-x}}}{\left(1-\frac{1}{n}\right)}", r"\binom{n}{k} p^k (1-p)^{n-k}",
                 r"\begin{pmatrix}a & \left(b\right)\\ c & d\end{pmatrix}", r"f\big(x\big) = \lvert x \rvert",
                 r"\operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}", r"a_{b_{c_{d_{e}}}}"]
    assert len(formulas) > 100  # the sheets are math-heavy: the pattern must find their formulas
    fast = [_zia(ziamath, mathml(f, d, True), 13)[0].svg() for f in formulas for d in (False, True)]
    patched = Mrow._get_height_nostretch
    Mrow._get_height_nostretch = patched.__wrapped__
    try:
        full = [_zia(ziamath, mathml(f, d, True), 13)[0].svg() for f in formulas for d in (False, True)]
    finally:
        Mrow._get_height_nostretch = patched
    assert fast == full
