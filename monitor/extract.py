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


def extract_text(page: bytes | str, url: str, charset: str | None = None) -> str:
    """The main text of an HTML page (bytes, or text from ``readable``), or '' when trafilatura
    finds none."""
    import trafilatura  # heavy import; only processes that extract pay for it

    text = trafilatura.extract(
        page if isinstance(page, str) else decode_page(page, charset),
        url=url,
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    return tidy(text or "")


def headline(page: bytes, url: str, charset: str | None = None) -> str:
    """The article's own title (og:title, the headline; no " | Site name"), as a feed would give it;
    '' when the page has none."""
    import trafilatura

    metadata = trafilatura.extract_metadata(decode_page(page, charset), default_url=url)
    return tidy(metadata.title or "") if metadata is not None else ""


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


# Elements that are never text (kept: comments, so that a <script> inside one stays inert), and
# elements that separate words. The loops are unrolled: [^<]* runs fast where .*? goes char by char.
_NOT_TEXT = re.compile(   # one literal "<" first: the engine then skips fast from one "<" to the next
    r"<(?:!--.*?-->|(script|style|template|svg|math)\b[^>]*>[^<]*(?:<(?!/\1\s*>)[^<]*)*</\1\s*>)", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HEAD = re.compile(r"<head\b[^<]*(?:<(?!/head\s*>)[^<]*)*</head\s*>", re.I)
_BLOCK = re.compile(   # grouped by first letter: a long flat alternation is tried name by name
    r"</?(?:a(?:rticle|side|ddress)|b(?:r|ody|lockquote|utton)|caption|d(?:iv|[ltd]|etails)"
    r"|f(?:ooter|igure|igcaption|orm|ieldset)|h(?:[1-6r]|eader|tml)|iframe|l(?:i|egend|abel)|main|n(?:av|oscript)"
    r"|o(?:l|ption)|p(?:re)?|s(?:ection|ummary|elect)|t(?:[rdh]|able|head|body|foot|extarea|itle)|ul)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_BEFORE_WORD = re.compile(r"<[^>]*>(?=\w)")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)


def readable(body: bytes, charset: str | None = None) -> str | None:
    """The page as text, without the elements that never hold text (scripts, styles, SVG): less
    than half of a news page's bytes, and all that extraction needs. None when the page's
    encoding is not sure: then it must be extracted from its bytes rather than judged on
    garbled text."""
    document = decode_page(body, charset)
    if isinstance(document, bytes):
        declared = _META_CHARSET.search(document[:4096])
        decoded = encodings.decode(document, ["utf-8", declared.group(1).decode("ascii") if declared else None])
        if decoded is None:
            return None
        document = decoded[0]
    return _NOT_TEXT.sub(_unless_comment, document)


def _unless_comment(found: re.Match[str]) -> str:
    return "" if found.group(1) else found.group(0)


def keepable(document: str) -> bytes:
    """A readable page as bytes that decode by themselves (UTF-8 with its mark), to keep."""
    return b"\xef\xbb\xbf" + document.encode("utf-8", errors="replace")


def quick_text(document: str) -> str:
    """Every word of a readable page, fast (a millisecond or two where trafilatura takes tens):
    a superset of the main text, for deciding that no rule can match. Inline tags may join or
    split words ("Export<b>kontrollen</b>"), so where they do the text comes twice, joined and
    split."""
    document = _BLOCK.sub(" ", _HEAD.sub(" ", _COMMENT.sub("", document), count=1))
    joined = " ".join(html.unescape(_TAG.sub("", document)).split())   # one space between words,
    if not _glued(document):                                            # as in the main text (tidy)
        return joined   # no tag inside a word: splitting at tags would change nothing
    return joined + "\n" + " ".join(html.unescape(_TAG.sub(" ", document)).split())


def _glued(document: str) -> bool:
    """Whether a tag sits between two letters somewhere: Export<b>kontrollen</b>."""
    return any(tag.start() and document[tag.start() - 1].isalnum() for tag in _BEFORE_WORD.finditer(document))
