"""Render every sample in the light and dark themes, and write the gallery page.

Run by ``make docs``: ``python docs/make_gallery.py [OUT_DIR]`` (default docs/).
Each sample is captured once and saved as JSON; the pictures are drawn from
that JSON with ``gradviz render``, the same way a deck restyles its captures.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THEMES = ("light", "dark")
MAX_NODES = 40  # larger samples are shown by their own pages (doctor, --color-by)


def gradviz(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "gradviz", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


def build(out: Path, samples: list[Path]) -> list[str]:
    images = out / "gallery"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for sample in samples:
            capture = Path(tmp) / f"{sample.stem}.json"
            gradviz("run", str(sample), "-o", str(capture))
            nodes = capture.read_text().count('"kind"')
            if nodes > MAX_NODES:
                continue
            cells = []
            for theme in THEMES:
                name = f"{sample.stem}-{theme}.svg"
                gradviz("render", str(capture), "-o", str(images / name), "--theme", theme)
                cells.append(f"![{sample.stem}, {theme}](gallery/{name})")
            doc = sample.read_text().split('"""')[1].strip() if '"""' in sample.read_text() else ""
            rows.append(f"### {sample.stem}\n\n{doc}\n\n" + " ".join(cells) + "\n")
    page = [
        "# Gallery",
        "",
        "Every sample of `samples/`, drawn in the light and the dark theme (`make docs`",
        "regenerates this page). Each was captured once with `gradviz run -o x.json`",
        "and drawn with `gradviz render x.json --theme light|dark`.",
        "",
        *rows,
    ]
    (out / "gallery.md").write_text("\n".join(page))
    return rows


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    made = build(target, sorted((ROOT / "samples").glob("*.py")))
    print(f"gallery: {len(made)} samples in {target / 'gallery.md'}")
