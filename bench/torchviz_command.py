"""What a torchviz user runs for a picture: the snippet, ``make_dot`` on its result,
``dot -Tsvg`` (bench only: ``make bench`` installs torchviz).

Usage: ``python bench/torchviz_command.py SNIPPET ROOT OUT.svg [ARGS...]``, where ROOT
is the variable ``backward()`` was called on.
"""

from __future__ import annotations

import runpy
import subprocess
import sys

DOT_TIMEOUT = 60.0  # issue 5 counts a minute of dot as failing


def main() -> None:
    snippet, root, out, *argv = sys.argv[1:]
    sys.argv = [snippet, *argv]
    namespace = runpy.run_path(snippet, run_name="__main__")
    import torchviz

    source = torchviz.make_dot(namespace[root]).source
    subprocess.run(
        ["dot", "-Tsvg", "-o", out], input=source, text=True, check=True, timeout=DOT_TIMEOUT
    )


if __name__ == "__main__":
    main()
