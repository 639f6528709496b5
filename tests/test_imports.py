"""`gradviz --help` stays instant: importing the CLI loads no torch, graphviz or rich."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "numpy", "graphviz", "rich", "gradviz.torchcapture")


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_importing_the_cli_is_light() -> None:
    loaded = modules_after("import gradviz.cli")
    assert not {m for m in HEAVY if m in loaded}


def test_help_imports_nothing_heavy() -> None:
    loaded = modules_after(
        "import sys\nfrom gradviz.cli import cli\n"
        "try:\n    cli(['run', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert not {m for m in HEAVY if m in loaded}


def test_rendering_a_graph_needs_no_torch() -> None:
    loaded = modules_after(
        "from gradviz.model import Graph, Node, TensorData\n"
        "from gradviz.renderers.dot import DotRenderer\n"
        "t = TensorData(shape=(1,), dtype='float32', data=(1.0,))\n"
        "g = Graph(nodes=(Node(id=0, kind='leaf', value=t),), edges=(), outputs=(0,))\n"
        "DotRenderer().render(g)"
    )
    assert "torch" not in loaded
