"""The checked field types the config's sections are made of, and the frozen base they share.

Each check raises the message the user reads (``bad duration '5 minutes': ...``); monitor.config
adds the file and the key. The types are here, not in config, because the sections they make
up live with the code that uses them: the feed in monitor.models, the rule in monitor.rules.spec,
the topic in monitor.relevance.spec.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_LANGUAGE = re.compile(r"[a-z]{2}")


class Section(BaseModel):
    """A table of the config file: unknown keys refused, no type coercion, frozen once read."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def parse_duration(value: Any) -> timedelta:
    """'30s', '10m', '2h', '1d', '1w' or combinations ('1h30m').

    A bare number is refused, not taken as seconds: ``max_age = 3`` meant three
    days far more often than three seconds, and quietly stopped every alert.
    """
    if isinstance(value, timedelta):   # a default, or a value already checked (a feed's from [monitor])
        return value
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        raise ValueError(f"bad duration {value!r}: a number needs a unit, e.g. "
                         f"'{number}s', '{number}m', '{number}h' or '{number}d'")
    if isinstance(value, str) and value.strip():
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"bad duration {value!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError(f"bad duration {value!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
    if seconds <= 0:
        raise ValueError(f"bad duration {value!r}: must be longer than zero")
    return timedelta(seconds=seconds)


def _language(value: Any) -> Any:
    if isinstance(value, str) and not _LANGUAGE.fullmatch(value):
        bare = value.split("-")[0].split("_")[0].lower()
        hint = f" (write {bare!r})" if _LANGUAGE.fullmatch(bare) else ""
        raise ValueError(f"bad language {value!r}: use a bare ISO 639-1 code such as 'en' or 'nl'{hint}")
    return value


def _http_url(value: Any) -> Any:
    if isinstance(value, str) and not re.match(r"https?://[^/\s]+", value):
        raise ValueError(f"bad URL {value!r}: must start with http:// or https:// and name a host")
    return value


def listed(value: Any) -> Any:
    """TOML arrays are lists; the sections keep tuples, so that they stay frozen."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise PydanticCustomError("list_type", "Input should be a valid list")


def _path(value: Any) -> Any:
    """A string -> a Path; anything else fails as a string would (same messages)."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return Path(value).expanduser()


def _named_path(value: Any) -> Any:
    if value == "":
        raise PydanticCustomError("string_too_short", "String should have at least 1 character")
    return _path(value)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Language = Annotated[str, BeforeValidator(_language)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
Name = Annotated[str, Field(min_length=1)]
Term = Annotated[str, Field(min_length=1)]
Terms = Annotated[tuple[Term, ...], BeforeValidator(listed)]
Names = Annotated[tuple[Name, ...], BeforeValidator(listed)]
Languages = Annotated[tuple[Language, ...], BeforeValidator(listed)]
AnyPath = Annotated[Path, BeforeValidator(_path)]
FilePath = Annotated[Path, BeforeValidator(_named_path)]   # a file named by the user: not empty
