"""Which character encoding a body is in, when the server, the document and the bytes disagree. Pure.

The order of belief: a byte-order mark; then what the document declares
(XML declaration); then the HTTP charset; then UTF-8. A label naming a
single-byte legacy charset (Latin-1, windows-1252, ISO-8859-15, ...) on a
body that is valid UTF-8 with non-ASCII bytes is taken to mean UTF-8: such
bytes are practically never legacy text, and servers that default to
ISO-8859-1 are common. Labels that name codecs no web document uses (utf-7,
idna, unicode_escape...) are ignored rather than obeyed.
"""

from __future__ import annotations

import codecs
import re

# The WHATWG Encoding Standard's charsets, as Python codec names.
WEB_CODECS = {
    "utf-8", "cp866", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic", "cp874",
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "gbk", "gb18030", "big5", "big5hkscs", "euc_jp", "iso2022_jp", "shift_jis", "cp932", "euc_kr", "cp949",
    *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
}
# XML may also be in these (an XML declaration may name them; web pages may not)
XML_CODECS = WEB_CODECS | {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "cp037",
                           "cp500", "cp1140", "cp1026", "cp875"}
SUPERSETS = {"ascii": "cp1252", "iso8859-1": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874",
             "tis-620": "cp874", "gb2312": "gbk"}   # labels that browsers read as a superset
SINGLE_BYTE = {"cp866", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic", "cp874", "cp1250", "cp1251", "cp1252",
               "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258"} | {
                  f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)}
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# how "<" (or "<?") looks at the start of an XML document without a byte-order mark
_BARE_STARTS = ((b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00", "utf-16-le"),
                (b"\x00<", "utf-16-be"), (b"\x4c\x6f\xa7\x94", "cp037"))
_DECLARED = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def codec(label: str | None, allowed: set[str] = WEB_CODECS) -> str | None:
    """The Python codec for a charset label, or None when unknown or not allowed."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    name = SUPERSETS.get(name, name)
    return name if name in allowed else None


def bom(body: bytes) -> str | None:
    return next((name for mark, name in BOMS if body.startswith(mark)), None)


def decode(body: bytes, labels: list[str | None], allowed: set[str] = WEB_CODECS) -> tuple[str, str] | None:
    """(text, codec) by the first label that decodes the body cleanly; None if none does."""
    tried = set()
    for label in labels:
        name = codec(label, allowed)
        if name is None or name in tried:
            continue
        tried.add(name)
        if name in SINGLE_BYTE and not body.isascii():
            try:
                return body.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass
        try:
            return body.decode(name), name
        except UnicodeDecodeError:
            continue
    return None


def xml_declared(body: bytes) -> str | None:
    """The encoding an XML document declares, read in whatever family of encodings it starts in."""
    head = body[:400]
    family = next((name for start, name in _BARE_STARTS if head.startswith(start)), "latin-1")
    try:
        text = head.decode(family, errors="ignore")
    except LookupError:
        return None
    found = _DECLARED.match(text)
    if found:
        declared = codec(found.group(1), XML_CODECS)
        if declared in ("utf-16", "utf-32") and family.startswith(declared):
            return family   # "UTF-16" without a byte-order mark: the bytes tell which end comes first
        return found.group(1)
    return family if family != "latin-1" else None
