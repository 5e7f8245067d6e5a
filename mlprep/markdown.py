"""Markdown: parse once with markdown-it-py, render per target.

Targets differ only where formats do: math is MathML for `site`, TeX in math/tex scripts that pandoc
turns into MathML for `epub` (an intermediate file, never a page), SVG for `pdf`, MathJax delimiters
for `anki`; code is Pygments HTML except in `epub`, where pandoc highlights it; `topic:` links go
through a resolver the builder passes in. Raw HTML from content is never passed through.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from mlprep.sanitize import FORBIDDEN_TEX, check_arity, mathml_from_tree
from schemas.models import slugify

TARGETS = ("site", "epub", "pdf", "anki")
TOPIC_SCHEME = "topic:"

# Resolver: (topic_id, anchor or None) -> href, or None when the target is planned but not written.
Resolver = Callable[[str, Optional[str]], Optional[str]]


@dataclass
class Link:
    target: str
    anchor: Optional[str]
    line: int  # 0-based line within the parsed text


@dataclass
class Code:
    lang: str
    info: str
    code: str
    line: int  # 0-based line of the opening fence

    @property
    def runs(self) -> bool:
        return self.lang == "python" and "norun" not in self.info.split()[1:]


@dataclass
class Math:
    latex: str
    display: bool
    line: int


@dataclass
class Image:
    src: str
    line: int


@dataclass
class Doc:
    """A parsed Markdown text and what validation and builders need to know about it."""
    tokens: list[Token]
    headings: list[tuple[int, str, str]] = field(default_factory=list)  # (level, text, slug)
    links: list[Link] = field(default_factory=list)
    code: list[Code] = field(default_factory=list)
    math: list[Math] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    words: int = 0  # prose words, code blocks excluded


def _make_md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    # allow_digits=False: "$5 and $10" stays text; allow_space=False: "$ x $" is not math.
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    return md


_MD = _make_md()
_WORD = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


@lru_cache(maxsize=None)
def parse(text: str, reserved_ids: tuple[str, ...] = ()) -> Doc:
    """Parse Markdown once; heading ids avoid `reserved_ids` (question anchors on the same page)."""
    tokens = _MD.parse(text, {})
    doc = Doc(tokens)
    seen = set(reserved_ids)
    words = 0
    for i, tok in enumerate(tokens):
        line = tok.map[0] if tok.map else 0
        if tok.type == "heading_open":
            inline = tokens[i + 1]
            plain = "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
            slug = base = slugify(plain) or "section"
            n = 1
            while slug in seen:
                slug = f"{base}-{n}"
                n += 1
            seen.add(slug)
            tok.attrSet("id", slug)
            doc.headings.append((int(tok.tag[1]), plain, slug))
        elif tok.type == "fence":
            info = tok.info.strip()
            lang = info.split()[0].lower() if info else ""
            doc.code.append(Code(lang, info, tok.content, line))
        elif tok.type == "math_block":
            doc.math.append(Math(tok.content.strip(), True, line))
        elif tok.type == "inline":
            words += count_words(tok.content)
            for child in tok.children or []:
                if child.type == "link_open":
                    href = str(child.attrGet("href") or "")
                    if href.startswith(TOPIC_SCHEME):
                        target, _, anchor = href[len(TOPIC_SCHEME):].partition("#")
                        doc.links.append(Link(target, anchor or None, line))
                elif child.type == "image":
                    doc.images.append(Image(str(child.attrGet("src") or ""), line))
                elif child.type in ("math_inline", "math_inline_double"):
                    doc.math.append(Math(child.content.strip(), child.type == "math_inline_double", line))
    doc.words = words
    return doc


# --- math ------------------------------------------------------------------------------------

_UNKNOWN_COMMAND = re.compile(r"<m[io]>(\\[A-Za-z]+)</m[io]>")


def check_tex(latex: str) -> None:
    """Refuse TeX that would carry a link, style or code into any renderer (site, EPUB, Anki)."""
    bad = FORBIDDEN_TEX.search(latex)
    if bad:
        raise ValueError(f"\\{bad.group(1)} is not allowed in content math (no links, styles or code in formulas)")


@lru_cache(maxsize=None)
def mathml(latex: str, display: bool, for_print: bool = False) -> str:
    """LaTeX to sanitised MathML (allow-listed elements and attributes, escaped text, the TeX as
    alttext); raises ValueError for forbidden TeX, a malformed formula or a command latex2mathml would
    print as raw text. `for_print` applies ziamath's own work-arounds, for the PDF's SVG math."""
    from latex2mathml.converter import convert_to_element

    check_tex(latex)
    source = re.sub(r"\\arg(?![A-Za-z])", r"\\operatorname{arg}", latex)  # latex2mathml lacks \arg
    if for_print:
        source = _PRINT_TEX(source)
    tree = convert_to_element(source, display="block" if display else "inline")
    check_arity(tree)
    out = mathml_from_tree(tree, latex)
    bad = _UNKNOWN_COMMAND.search(out)
    if bad:
        raise ValueError(f"unsupported LaTeX command {bad.group(1)}")
    return _PRINT_MML(out) if for_print else out


def _PRINT_TEX(tex: str) -> str:
    """ziamath's TeX pre-processing (ziamath/tex.py), for what its layout engine does not support yet."""
    tex = re.sub(r"\\binom{(.+?)}{(.+?)}", r"\\left( \1 \\atop \2 \\right)", tex)
    tex = re.sub(r"\\mathrm{(.+?)}", r"\\mathrm {\1}", tex)
    tex = tex.replace("||", "‖")
    return tex.replace(r"\begin{aligned}", r"\begin{align*}").replace(r"\end{aligned}", r"\end{align*}")


def _PRINT_MML(mml: str) -> str:
    """ziamath's MathML fix-ups (ziamath/tex.py), on our decoded characters instead of entities."""
    mml = re.sub(r"<mo>(↑|↓)</mo>", r'<mo stretchy="false">\1</mo>', mml)
    mml = re.sub(r"<mi>(⟨|⟩)</mi>", r'<mi stretchy="false">\1</mi>', mml)
    mml = mml.replace('<mo stretchy="false">^</mo>', '<mo stretchy="false">\u02c6</mo>')
    mml = mml.replace("<mo>^</mo>", "<mo>\u0302</mo>").replace("<mo>~</mo>", "<mo>\u0303</mo>")
    return mml.replace('columnspacing="0em 2em"', 'columnspacing="0em 0.3em"')


PRINT_MIN_PX = 8.0  # 6 pt: no glyph of a printed formula (scripts included) is drawn smaller


@lru_cache(maxsize=None)
def math_svg(latex: str, display: bool, size: float = 10, max_width: float = 0) -> str:
    """SVG for print (WeasyPrint draws MathML as flat text). Inline formulas use text style and are
    shifted by ziamath's baseline offset so they sit on the line like the words around them.

    No glyph is drawn below 6 pt (scripts and nested fractions are held at that floor), and a formula
    wider than `max_width` px is set at a smaller size that fits; if even 6 pt will not fit, ValueError."""
    ziamath = _ziamath()
    source = mathml(latex, display, for_print=True)  # sanitised, well-formed MathML
    m, width = _zia(ziamath, source, size)
    if max_width and width > max_width:
        fitted = size * max_width / width * 0.98
        if fitted < PRINT_MIN_PX:
            raise ValueError(f"formula ${latex}$ is {width:.0f}px wide; a column holds {max_width:.0f}px, and "
                             f"even at 6 pt it would not fit: break it into lines or shorten it")
        m, width = _zia(ziamath, source, fitted)
    if display:
        return f'<span class="math display">{m.svg()}</span>'
    return f'<span class="math inline" style="vertical-align:{m.getyofst():.2f}px">{m.svg()}</span>'


def math_png(latex: str, display: bool, size: float = 32, max_width: float = 1200) -> tuple[bytes, int, int, float]:
    """A formula as a PNG for readers without MathML (Kindle): drawn by ziamath, rasterised by resvg,
    black on transparent. Returns (png, width, height, baseline offset), all in px at `size`; a formula
    wider than `max_width` is drawn smaller so it fits."""
    import resvg_py

    ziamath = _ziamath()
    source = mathml(latex, display, for_print=True)
    m, width = _zia(ziamath, source, size)
    if width > max_width:
        m, width = _zia(ziamath, source, size * max_width / width * 0.98)
    png = bytes(resvg_py.svg_to_bytes(svg_string=m.svg(), skip_system_fonts=True))
    w = int.from_bytes(png[16:20], "big")  # IHDR: width, height
    h = int.from_bytes(png[20:24], "big")
    return png, w, h, m.getyofst()


@lru_cache(maxsize=None)
def _ziamath():
    """ziamath, configured once for this process: SVG 1.1 output (glyph ids unique per formula, so
    formulas on a page don't clash), and a faster style copy. ziamath's parse_style copies the parent
    style with dataclasses.asdict, a recursive deep copy, for every node, yet reads only its top-level
    fields; a shallow copy gives byte-identical SVG (tests/test_render.py checks) in half the time."""
    import warnings

    with warnings.catch_warnings():  # ziamath's font lookup uses a deprecated importlib API
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziamath
        import ziamath.styles

    ziamath.config.svg2 = False
    ziamath.styles.asdict = lambda style: dict(style.__dict__)
    _skip_needless_height_pass(ziamath)
    return ziamath


def _skip_needless_height_pass(ziamath) -> None:
    """Before laying out a row, ziamath lays out every child a second time to measure the row's height
    without its stretchy operators: at each nesting level, so a formula's cost doubles per level. Only a
    stretchy `<mo>` reads that height, so a row without one anywhere beneath it skips the pass. The SVG
    is byte-identical: checked on all 5,192 formula renderings of the book's PDFs, and in
    tests/test_render.py on every formula of the cheat sheets and on nested, stretched edge cases."""
    from ziamath import operators
    from ziamath.nodes.mrow import Mrow
    from ziamath.nodes.nodetools import elementtext

    stretchy_names = {name for (name, _), p in operators.operators.items() if p.get("stretchy", "false") != "false"}

    def may_stretch(element) -> bool:
        if element.tag == "mfenced":
            return True
        if element.tag in ("mo", "mi"):  # ziamath turns an <mi> naming an operator into an <mo>
            flag = element.get("stretchy")
            if flag is not None:
                return flag != "false"
            return elementtext(element) in stretchy_names
        return False

    measure = Mrow._get_height_nostretch

    def height_nostretch(self, line, **kwargs):
        if not any(may_stretch(e) for child in line for e in child.iter()):
            return 0.0, 0.0  # read by no one: nothing beneath this row stretches
        return measure(self, line, **kwargs)

    height_nostretch.__wrapped__ = measure  # the tests compare against ziamath's own
    Mrow._get_height_nostretch = height_nostretch


def _zia(ziamath, source: str, size: float):
    # ziamath's floor is a fraction of its configured base size (config.math.fontsize), not of `size`
    ziamath.config.minsizefraction = PRINT_MIN_PX / ziamath.config.math.fontsize
    m = ziamath.Math(source, size=size)
    return m, m.getsize()[0]


# --- code ------------------------------------------------------------------------------------

FORMATTER = HtmlFormatter(cssclass="highlight", nowrap=False)


@lru_cache(maxsize=None)
def highlight_code(code: str, lang: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(code, lexer, FORMATTER)


def pygments_css(style: str = "default", selector: str = ".highlight") -> str:
    return HtmlFormatter(style=style).get_style_defs(selector)


# --- rendering -------------------------------------------------------------------------------

def _render_fence(self, tokens, idx, options, env):
    tok = tokens[idx]
    info = tok.info.strip()
    lang = info.split()[0].lower() if info else ""
    note = ' <span class="norun">not run: see text</span>' if "norun" in info.split()[1:] else ""
    if env["target"] == "epub":
        cls = f' class="sourceCode {html.escape(lang)}"' if lang else ""
        return f"<pre{cls}><code>{html.escape(tok.content)}</code></pre>\n"
    label = f'<div class="code-label">{html.escape(lang)}{note}</div>' if lang else ""
    fit = env.get("code_fit")
    if fit:  # print: the code set to fit its column (see the PDF builder)
        code, size = fit(tok.content)
        return f'<div class="code" style="font-size:{size:.2f}pt">{label}{highlight_code(code, lang)}</div>\n'
    return f'<div class="code">{label}{highlight_code(tok.content, lang)}</div>\n'


def _math(env, latex: str, display: bool) -> str:
    target = env["target"]
    latex = latex.strip()
    if target == "anki":
        return f"\\[{html.escape(latex)}\\]" if display else f"\\({html.escape(latex)}\\)"
    if target == "epub":  # pandoc's HTML reader takes TeX from these and writes MathML (--mathml)
        mode = "; mode=display" if display else ""
        tex = latex.replace("</", "<\\/")  # cannot close the script element early
        return f'<script type="math/tex{mode}">{tex}</script>'
    if target == "pdf":
        return math_svg(latex, display, env.get("math_size", 10), env.get("math_width", 0))
    return mathml(latex, display)


def _render_math_inline(self, tokens, idx, options, env):
    return _math(env, tokens[idx].content, False)


def _render_math_inline_double(self, tokens, idx, options, env):
    return _math(env, tokens[idx].content, True)


def _render_math_block(self, tokens, idx, options, env):
    return f'<div class="math-display">{_math(env, tokens[idx].content, True)}</div>\n'


def _render_heading_open(self, tokens, idx, options, env):
    tok = tokens[idx]
    hid = f'{env.get("id_prefix", "")}{tok.attrGet("id")}'
    shift = env.get("heading_shift", 0)
    level = min(6, int(tok.tag[1]) + shift)
    return f'<h{level} id="{html.escape(hid)}">'


def _render_heading_close(self, tokens, idx, options, env):
    level = min(6, int(tokens[idx].tag[1]) + env.get("heading_shift", 0))
    return f"</h{level}>\n"


def _render_link_open(self, tokens, idx, options, env):
    tok = tokens[idx]
    href = str(tok.attrGet("href") or "")
    stack = env.setdefault("_link_stack", [])
    if href.startswith(TOPIC_SCHEME):
        target, _, anchor = href[len(TOPIC_SCHEME):].partition("#")
        resolved = env["resolve"](target, anchor or None)
        cite = env.get("cite")
        where = cite(target) if cite else None  # print: "§ 3.2", so a reader can find it in the book
        after = f' <span class="sec">{html.escape(where)}</span>' if where else ""
        if resolved is None:
            stack.append("</span>" + after)
            return '<span class="planned" title="Planned topic, not written yet">'
        stack.append("</a>" + after)
        return f'<a href="{html.escape(resolved)}" class="xref">'
    stack.append("</a>")
    title = tok.attrGet("title")
    t = f' title="{html.escape(str(title))}"' if title else ""
    external = href.startswith(("http://", "https://"))
    rel = ' rel="noopener"' if external else ""
    return f'<a href="{html.escape(href)}"{t}{rel}>'


def _render_link_close(self, tokens, idx, options, env):
    stack = env.get("_link_stack") or ["</a>"]
    return stack.pop()


def _render_image(self, tokens, idx, options, env):
    """An image is shown only through the builder's media resolver (files inside content/, validated);
    without one, or for anything it refuses, the alt text stands in."""
    tok = tokens[idx]
    alt = self.renderInlineAsText(tok.children or [], options, env)
    media = env.get("media")
    href = media(str(tok.attrGet("src") or "")) if media else None
    if href is None:
        return f'<span class="img-alt">{html.escape(alt)}</span>'
    return f'<img src="{html.escape(href)}" alt="{html.escape(alt)}">'


def _render_table_open(self, tokens, idx, options, env):
    return '<div class="table-wrap"><table>\n'


def _render_table_close(self, tokens, idx, options, env):
    return "</table></div>\n"


for _name, _fn in {
    "fence": _render_fence,
    "math_inline": _render_math_inline,
    "math_inline_double": _render_math_inline_double,
    "math_block": _render_math_block,
    "math_block_label": _render_math_block,
    "heading_open": _render_heading_open,
    "heading_close": _render_heading_close,
    "link_open": _render_link_open,
    "link_close": _render_link_close,
    "image": _render_image,
    "table_open": _render_table_open,
    "table_close": _render_table_close,
}.items():
    _MD.add_render_rule(_name, _fn)


def render(text: str, target: str, resolve: Resolver, *, id_prefix: str = "", heading_shift: int = 0,
           reserved_ids: tuple[str, ...] = (), inline: bool = False, math_size: float = 10,
           media: Optional[Callable[[str], Optional[str]]] = None, math_width: float = 0,
           code_fit: Optional[Callable[[str], tuple[str, float]]] = None, cite=None) -> str:
    """Render Markdown to HTML for one target. `inline=True` drops a single wrapping <p>; `math_size` is
    the pixel size of SVG math (pdf), to match the surrounding type."""
    assert target in TARGETS, target
    doc = parse(text, reserved_ids)
    env = {"target": target, "resolve": resolve, "id_prefix": id_prefix, "heading_shift": heading_shift,
           "math_size": math_size, "media": media, "math_width": math_width, "code_fit": code_fit, "cite": cite}
    out = _MD.renderer.render(doc.tokens, _MD.options, env)
    if inline:
        stripped = out.strip()
        if stripped.startswith("<p>") and stripped.endswith("</p>") and stripped.count("<p>") == 1:
            return stripped[3:-4]
    return out


def render_inline(text: str, target: str, resolve: Resolver, *, math_size: float = 10, cite=None) -> str:
    """Inline Markdown only (a title or heading): "1. Setup" stays text, never a list."""
    env = {"target": target, "resolve": resolve, "id_prefix": "", "heading_shift": 0, "math_size": math_size,
           "media": None, "math_width": 0, "code_fit": None, "cite": cite}
    return _MD.renderer.render(_MD.parseInline(text, env), _MD.options, env)


def plain_text(text: str) -> str:
    """Text content for the search index: Markdown syntax and code dropped."""
    doc = parse(text)
    parts = []
    for tok in doc.tokens:
        if tok.type == "inline":
            parts.append("".join(c.content for c in tok.children or [] if c.type in ("text", "code_inline")))
    return " ".join(p for p in parts if p)
