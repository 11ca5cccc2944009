"""A feed to poll, as the config names it: the schema of a ``[[feeds]]`` table.

Apart from monitor.models, which the worker processes import and which stays free of pydantic.
The store and the stages take it from here, never from monitor.config.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo, model_validator

from monitor.fields import Duration, HttpUrl, Language, Name, Section


class Feed(Section):
    """A feed to poll, as the config names it (a ``[[feeds]]`` table)."""

    name: Name
    url: HttpUrl
    interval: Duration                  # [monitor].interval when the table has none
    language: Language | None = None
    catch_up: bool = False              # a new feed's first poll alerts what it already holds

    @model_validator(mode="before")
    @classmethod
    def _inherit(cls, data: Any, info: ValidationInfo) -> Any:
        """What the table leaves out comes from [monitor] (handed in as the validation's context)."""
        if isinstance(data, dict) and isinstance(info.context, dict):
            return {**info.context.get("feed_defaults", {}), **data}
        return data
