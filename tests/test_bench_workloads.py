"""Every bench workload, the 50,000-step chain included, draws and exits cleanly.

Each runs in its own process through the command line, as a user would run it:
a crash while freeing a deep graph (exit 139) cannot hide behind the test runner.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).parent.parent / "bench"
_bench = runpy.run_path(str(BENCH / "run.py"), run_name="bench")
WORKLOADS: list[Any] = _bench["WORKLOADS"]
MEMORY_WORKLOAD: Any = _bench["MEMORY_WORKLOAD"]


@pytest.mark.dot
@pytest.mark.parametrize("work", WORKLOADS, ids=[w.name.split(" (")[0] for w in WORKLOADS])
def test_bench_workload_draws_and_exits_cleanly(tmp_path: Path, work: Any) -> None:
    out = tmp_path / "g.svg"
    snippet = BENCH / "workloads" / work.file
    proc = subprocess.run(
        [sys.executable, "-m", "gradviz", "run", str(snippet), "-o", str(out), "--", *work.argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    svg = ET.parse(out).getroot()
    drawn = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    assert 0 < len(drawn) <= 500  # within the default budget, whatever the graph's size
    assert "gradviz: wrote" in proc.stderr


MEASURE_PEAK = """
import runpy, sys
from pathlib import Path
from gradviz.execute import load_snippet, run_snippet
from gradviz.torchcapture import capture_snippet
bench = runpy.run_path(sys.argv[3], run_name="bench")
snippet = load_snippet(Path(sys.argv[1]))
before = bench["resident_kib"]()
if sys.argv[2] == "capture":
    assert capture_snippet(snippet).graph is not None
else:
    run_snippet(snippet)
print(bench["peak_kib"]() - before)
"""


def test_capturing_100m_parameters_does_not_double_memory() -> None:
    """Large tensors are summarized, never copied: memory stays close to the plain run's."""
    path = str(BENCH / "workloads" / MEMORY_WORKLOAD.file)
    peaks = {}
    for how in ("plain", "capture"):
        proc = subprocess.run(
            [sys.executable, "-c", MEASURE_PEAK, path, how, str(BENCH / "run.py")],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        peaks[how] = int(proc.stdout.split()[-1])  # KiB
    assert peaks["plain"] > 700 * 1024  # 400 MB of weights and 400 MB of gradients
    assert peaks["capture"] < 1.15 * peaks["plain"], peaks
