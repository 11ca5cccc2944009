"""Values the config names instead of holding them: ``${VAR}`` from the environment, or a file read
from beside the config. Channel URLs and the status page's token are kept out of config.toml this way.

Each function returns its value and a problem (or None), worded to follow the key that names it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``value`` with each ``${VAR}`` replaced, stripped; None and the problem when a variable is not set."""
    missing = [var for var in ENV_REF.findall(value) if var not in environ]
    if missing:
        return None, f"environment variable {missing[0]} is not set"
    return ENV_REF.sub(lambda m: environ[m.group(1)], value).strip(), None


def read_beside(name: str, folder: Path) -> tuple[str | None, str | None]:
    """The text of the file ``name`` (relative to ``folder``, the config's); None and the problem when it
    cannot be read."""
    path = Path(name).expanduser()
    path = path if path.is_absolute() else folder / path
    try:
        return path.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return None, f"file {path} not found"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read {path}: {getattr(exc, 'strerror', None) or type(exc).__name__}"
