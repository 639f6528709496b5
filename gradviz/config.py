"""Deck defaults: style options a lecturer sets once for every render of a deck.

A ``gradviz.toml`` next to the snippet or in a folder above it (its top-level
keys), or a ``[tool.gradviz]`` table in a ``pyproject.toml`` there, sets defaults
for the style options (``theme = "dark"``, ``font-size = 14``); options given on
the command line win. The nearest file wins; the search stops at the first one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gradviz.errors import GradvizError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "find_defaults"]


class ConfigError(GradvizError):
    """A deck defaults file that cannot be used."""

    exit_code = 2


def _table(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML: {exc}") from exc
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("gradviz")
        return table if isinstance(table, dict) else None
    return data


def find_defaults(start: Path) -> tuple[Path | None, dict[str, Any]]:
    """The nearest defaults file at or above ``start``, and its settings (dashes as _)."""
    folder = start.resolve()
    if folder.is_file():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        for name in ("gradviz.toml", "pyproject.toml"):
            path = candidate / name
            if path.is_file():
                table = _table(path)
                if table is not None:
                    return path, {k.replace("-", "_"): v for k, v in table.items()}
    return None, {}
