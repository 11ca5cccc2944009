"""Dates that feedparser cannot read: RFC 822 dates written in other languages.

Feeds from Italian, Portuguese, Spanish, French, German, Dutch or Polish
publishers often localise the day and month names ("mer, 16 nov 2022
10:00:00 +0100", "Seg, 24 Set 2018 18:40:00 -0300"). Without a date such an
entry would count as published when first seen, and ``max_age`` would not
keep old items out of the first poll. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

# first letters of month names (accents removed) -> month number
_MONTHS = {
    "jan": 1, "gen": 1, "ene": 1, "sty": 1,
    "feb": 2, "fev": 2, "lut": 2,
    "mar": 3, "mrt": 3, "maa": 3,
    "apr": 4, "avr": 4, "abr": 4, "kwi": 4,
    "may": 5, "mai": 5, "mei": 5, "mag": 5, "maj": 5,
    "jun": 6, "juin": 6, "giu": 6, "cze": 6,
    "jul": 7, "juil": 7, "lug": 7, "lip": 7,
    "aug": 8, "aou": 8, "ago": 8, "sie": 8,
    "sep": 9, "set": 9, "wrz": 9,
    "oct": 10, "okt": 10, "ott": 10, "out": 10, "paz": 10,
    "nov": 11, "lis": 11,
    "dec": 12, "dez": 12, "dic": 12, "gru": 12,
}
_DATE = re.compile(
    r"^\s*(?:[^\W\d_]+\.?,?\s+)?"                     # weekday, any language
    r"(\d{1,2})\.?\s+([^\W\d_]+)\.?,?\s+(\d{4})"      # 16 nov 2022
    r"(?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"      # 10:00:00
    r"\s*(?:([+-])(\d{2}):?(\d{2}))?",                # +0100 (named zones are read as UTC)
)


def parse_localized(text: str) -> datetime | None:
    """An aware UTC datetime, or None when the text is not such a date."""
    found = _DATE.match(text or "")
    if not found:
        return None
    day, month_name, year, hour, minute, second, sign, tz_hours, tz_minutes = found.groups()
    month_name = "".join(c for c in unicodedata.normalize("NFKD", month_name.lower()) if c.isascii())
    month = _MONTHS.get(month_name[:4]) or _MONTHS.get(month_name[:3])
    if month is None:
        return None
    try:
        moment = datetime(int(year), month, int(day), int(hour or 0), int(minute or 0), int(second or 0),
                          tzinfo=timezone.utc)
    except ValueError:
        return None
    if sign:
        offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes))
        moment -= offset if sign == "+" else -offset
    return moment
