"""HTML page -> text: the main text (trafilatura), and a quick text of the whole page. Pure CPU work.

trafilatura drops navigation, sidebars, footers and cookie banners; what is
left is what the rules see. It costs tens of milliseconds a page, so a quick
text of the whole page (every word of it, boilerplate included) comes first:
when no rule can match even that, the page is not extracted at all.
"""

from __future__ import annotations

import html
import re

from monitor import encodings
from monitor.text import tidy

MAX_PAGE_BYTES = 4 * 1024 * 1024   # bigger pages are not extracted: the feed's text is used


def extract_text(body: bytes, url: str, charset: str | None = None) -> str:
    """The main text of an HTML page, or '' when trafilatura finds none."""
    import trafilatura  # heavy import; only processes that extract pay for it

    text = trafilatura.extract(
        decode_page(body, charset),
        url=url,
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    return tidy(text or "")


def decode_page(body: bytes, charset: str | None) -> str | bytes:
    """Text by the byte-order mark, else by the HTTP charset if it is a web charset that decodes
    the body cleanly (see monitor.encodings); otherwise the bytes, for trafilatura to sniff from
    the page's own <meta>."""
    marked = encodings.bom(body)
    if marked in ("utf-8-sig", "utf-16"):
        return body.decode(marked, errors="replace")
    decoded = encodings.decode(body, [charset])
    return decoded[0] if decoded else body



_HTML_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*[\"'\s>/]", re.I)


def page_language(body: bytes) -> str | None:
    """The language a page declares in ``<html lang>``, as a bare code."""
    found = _HTML_LANG.search(body[:20000])
    code = found.group(1).decode("ascii").lower() if found else None
    return code if code and len(code) == 2 else None


# Elements whose text is never article text, and elements that separate words.
_SKIP = re.compile(r"<!--.*?-->|<(script|style|template|svg|math|head)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_BLOCK = re.compile(
    r"</?(?:p|div|br|hr|li|ul|ol|dl|dt|dd|h[1-6]|tr|td|th|table|thead|tbody|tfoot|caption|section|article|header"
    r"|footer|nav|aside|main|blockquote|pre|figure|figcaption|form|fieldset|legend|address|details|summary|option"
    r"|select|textarea|button|label|iframe|noscript|title|body|html)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_BEFORE_WORD = re.compile(r"<[^>]*>(?=\w)")
_SPACES = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)


def quick_text(body: bytes, charset: str | None = None) -> str | None:
    """Every word of a page, fast (a few milliseconds where trafilatura takes tens): a superset
    of the main text, for deciding that no rule can match. Inline tags may join or split words
    ("Export<b>kontrollen</b>"), so the text comes twice, joined and split. None when the
    page's encoding is not sure: then it must be extracted rather than judged on garbled text."""
    document = decode_page(body, charset)
    if isinstance(document, bytes):
        declared = _META_CHARSET.search(document[:4096])
        decoded = encodings.decode(document, ["utf-8", declared.group(1).decode("ascii") if declared else None])
        if decoded is None:
            return None
        document = decoded[0]
    document = _BLOCK.sub(" ", _SKIP.sub(" ", document))
    joined = _SPACES.sub(" ", html.unescape(_TAG.sub("", document)))   # one space between words, as in
    if not _glued(document):                                            # the main text (tidy)
        return joined   # no tag inside a word: splitting at tags would change nothing
    return joined + "\n" + _SPACES.sub(" ", html.unescape(_TAG.sub(" ", document)))


def _glued(document: str) -> bool:
    """Whether a tag sits between two letters somewhere: Export<b>kontrollen</b>."""
    return any(tag.start() and document[tag.start() - 1].isalnum() for tag in _BEFORE_WORD.finditer(document))
