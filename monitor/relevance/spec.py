"""A topic as the user writes it (a ``[[topics]]`` table), checked. Pure."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from monitor.fields import FilePath, Name, Section, Terms


class TopicSpec(Section):
    name: Name
    about: Terms = ()
    examples: Terms = ()
    not_about: Terms = ()
    model: FilePath | None = None       # resolved against the config file's folder
    threshold: Annotated[float, Field(gt=0, le=1)] | None = None   # None: the model's own, or the similarity default

    @field_validator("model")
    @classmethod
    def _in_config_folder(cls, value: FilePath | None, info: ValidationInfo) -> FilePath | None:
        """A relative model path is read from the config file's folder (handed in as the context)."""
        if value is None or value.is_absolute() or not isinstance(info.context, dict):
            return value
        folder = info.context.get("folder")
        return folder / value if folder is not None else value
