"""Plain text out of HTML fragments, and whitespace tidying. Pure functions."""

from __future__ import annotations

import html
import re

import lxml.html
from lxml import etree

_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
    "table", "blockquote", "pre", "section", "article", "header", "footer", "figure", "figcaption",
    "dd", "dt", "dl", "hr",
}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_LINES = re.compile(r"\s*\n\s*")
_WRAPPED = re.compile(r"(?<!\n)[ \t]*\n[ \t]*(?!\n)")


def tidy(text: str) -> str:
    """Collapse runs of spaces; keep single line breaks between paragraphs."""
    text = _SPACES.sub(" ", text)
    return _LINES.sub("\n", text).strip()


def html_to_text(fragment: str) -> str:
    """Text of an HTML fragment (a feed summary, say), with paragraphs kept apart."""
    if not fragment:
        return ""
    if "<" not in fragment:   # plain text: a single line break is a wrapped line, a blank line a paragraph
        return tidy(_WRAPPED.sub(" ", html.unescape(fragment)))
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return tidy(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    for element in root.iter(etree.Element):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in ("script", "style", "noscript"):
            element.text = ""
        elif tag in _BLOCK:
            element.tail = "\n" + (element.tail or "")
    return tidy(root.text_content())
