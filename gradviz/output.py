"""Write output files so that a failure never leaves half a file behind.

Each file is written to a temporary file in the same folder and renamed over
the target only once it is complete; an existing file is replaced whole or
not at all.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from gradviz.errors import OutputError

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating missing parent folders."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder: {exc.strerror}") from exc
    if path.is_dir():
        raise OutputError(f"{path}: is a folder", hint="name a file, e.g. -o graph.svg")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write: {exc.strerror}") from exc
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
