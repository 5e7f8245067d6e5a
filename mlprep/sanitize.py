"""Escaping for each output context, and allow-lists for the markup we generate from content.

Content is data, never code: every value is escaped for the context it lands in (HTML text and attributes
by Jinja's autoescape, CSS strings and MathML here), and generated markup keeps only what an allow-list
names. Nothing a content author types can open a tag, a style block, a script or a link in an output.
"""
from __future__ import annotations

import html
import re
from xml.etree.ElementTree import Element

# --- CSS -------------------------------------------------------------------------------------

_CSS_SAFE = re.compile(r"[A-Za-z0-9 .,;:!?()\[\]{}@#%+*/=_|~^$-]")


def css_string(text: str) -> str:
    """The body of a double-quoted CSS string: anything that could end the string, the <style> element
    or the line (quotes, backslash, <, >, &, controls) becomes a CSS hex escape."""
    out = []
    for ch in text:
        if _CSS_SAFE.fullmatch(ch) or (ord(ch) > 0x9F and ch.isprintable()):
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):06x}")  # six digits: no trailing space needed
    return "".join(out)


# --- MathML ----------------------------------------------------------------------------------

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
MATHML_TAGS = frozenset("""
    math semantics annotation mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot munder
    mover munderover mtable mtr mtd mlabeledtr mstyle mpadded mphantom menclose mmultiscripts mprescripts
    none merror
""".split())
MATHML_ATTRS = frozenset("""
    display mathvariant stretchy fence separator accent accentunder lspace rspace minsize maxsize
    movablelimits symmetric largeop form linethickness columnalign rowalign columnspacing rowspacing
    columnlines rowlines frame framespacing width height depth voffset notation scriptlevel displaystyle
    mathsize open close separators align columnspan rowspan equalrows equalcolumns mathcolor
    mathbackground encoding
""".split())
_ATTR_VALUE = re.compile(r"^[A-Za-z0-9 .+#%,-]*$")  # lengths, keywords, colours: no URL, no CSS

# TeX commands that would carry a link, a class, a style or code into any renderer (latex2mathml for the
# site, pandoc for the EPUB, MathJax in Anki): refused by validation, whatever the target.
FORBIDDEN_TEX = re.compile(r"\\(href|url|class|cssId|style|attr|data|html[A-Za-z]*|require|unicode|"
                           r"includegraphics|input|include|write|def|let|newcommand|renewcommand)(?![A-Za-z])")


# MathML elements with a fixed number of children: latex2mathml builds \frac{1} as a one-child <mfrac>,
# which every renderer then mis-draws or crashes on (ziamath raises), so it is a validation error.
ARITY = {"mfrac": 2, "msub": 2, "msup": 2, "msubsup": 3, "mroot": 2, "munder": 2, "mover": 2, "munderover": 3}
_TEX_NAME = {"mfrac": "\\frac", "mroot": "\\sqrt[n]", "msub": "a subscript", "msup": "a superscript",
             "msubsup": "a sub- and superscript", "munder": "an under-script", "mover": "an over-script",
             "munderover": "limits"}


def check_arity(root: Element) -> None:
    for el in root.iter():
        need = ARITY.get(el.tag)
        if need is not None and len(el) != need:
            raise ValueError(f"{_TEX_NAME[el.tag]} needs {need} parts, got {len(el)} (a missing {{…}} argument?)")


def mathml_from_tree(root: Element, alttext: str) -> str:
    """Serialise latex2mathml's element tree keeping only allow-listed MathML, every text escaped."""
    parts: list[str] = []

    def emit(el: Element, top: bool) -> None:
        tag = el.tag if el.tag in MATHML_TAGS else "mrow"  # an unknown element keeps its children only
        attrs = {k: v for k, v in el.attrib.items() if k in MATHML_ATTRS and _ATTR_VALUE.match(str(v))}
        if top:
            tag = "math"
            attrs = {"xmlns": MATHML_NS, **{k: v for k, v in attrs.items() if k == "display"}, "alttext": alttext}
        parts.append("<" + tag + "".join(f' {k}="{html.escape(str(v), quote=True)}"' for k, v in attrs.items()))
        children = list(el)
        # latex2mathml keeps character references as literal text ("&#x2192;"): decode, then escape once
        text = html.unescape(el.text or "")
        if not children and not text:
            parts.append(" />" if tag in ("mspace", "none", "mprescripts") else "></" + tag + ">")
            return
        parts.append(">" + html.escape(text, quote=False))
        for child in children:
            emit(child, False)
            parts.append(html.escape(html.unescape(child.tail or ""), quote=False))
        parts.append(f"</{tag}>")

    emit(root, True)
    return "".join(parts)
