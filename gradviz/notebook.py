"""A Jupyter notebook's code cells as one script, so ``gradviz run lecture.ipynb`` works.

Lectures on autograd are often notebooks. Their code cells run top to bottom,
one after another, as ``jupyter nbconvert --to script`` would write them: each
cell under a ``# In[N]:`` line (with its place in the notebook), markdown left
out. IPython's own syntax is not Python: a line magic (``%matplotlib inline``),
a shell line (``!pip install torch``) or a help line (``torch.randn?``) becomes
``pass`` with the line as a comment, so the script keeps its shape (the line
can be inside a loop); a cell magic whose body is Python (``%%time``) keeps its
body, any other (``%%bash``) is commented out whole. The line numbers gradviz
shows are the script's; each comes with its code.

Stdlib only: this runs before torch is imported.
"""

from __future__ import annotations

import json

__all__ = ["NotANotebook", "notebook_source"]

_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
"""Cell magics whose body is Python, run as it stands."""


class NotANotebook(ValueError):
    """The file is not a Jupyter notebook gradviz can read."""


def notebook_source(text: str) -> str:
    """The code cells of notebook ``text`` (its JSON) as one Python script."""
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotANotebook(f"is not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise NotANotebook("has no list of cells (nbformat 4 is read)")
    parts: list[str] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        code = "".join(source) if isinstance(source, list) else str(source)
        count = cell.get("execution_count")
        run = count if isinstance(count, int) else " "  # as nbconvert writes it
        parts.append(f"# In[{run}]: cell {number}\n{_as_python(code)}\n")
    return "\n".join(parts)


def _as_python(code: str) -> str:
    lines = code.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:
            return "\n".join(f"# {line}" for line in lines)  # %%bash, %%html: not Python
        lines = [f"pass  # {lines[0].strip()}", *lines[1:]]
    return "\n".join(_line_as_python(line) for line in lines)


def _line_as_python(line: str) -> str:
    stripped = line.lstrip()
    help_line = stripped.endswith("?") and not any(c in stripped for c in "#'\"")
    if stripped.startswith(("%", "!", "?")) or help_line:
        indent = line[: len(line) - len(stripped)]
        return f"{indent}pass  # {stripped}"
    return line
