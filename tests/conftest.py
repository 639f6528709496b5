"""Shared fixtures: a pinned terminal, the CLI runner, goldens and the `dot` marker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = Path(__file__).resolve().parent / "snippets"
SAMPLES = ROOT / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/golden/ from the current output instead of comparing",
    )
    parser.addoption("--skip-dot", action="store_true", help="skip tests that need Graphviz dot")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if config.getoption("--skip-dot"):
        reason = "--skip-dot given"
    elif shutil.which("dot") is None:
        reason = "Graphviz dot is not installed (make install installs it)"
    if reason:
        for item in items:
            if "dot" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _pinned_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


class Golden:
    """Compares text with tests/golden/NAME, or rewrites it under --update-goldens."""

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, name: str, text: str) -> None:
        path = GOLDEN / name
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden {path}: run pytest --update-goldens"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{name} differs from its golden (pytest --update-goldens)"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--update-goldens")))


@pytest.fixture
def fake_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Put a `dot` that runs the given shell script first on PATH."""

    def install(script: str) -> Path:
        exe = tmp_path / "fake-bin" / "dot"
        exe.parent.mkdir(exist_ok=True)
        exe.write_text(f"#!/bin/sh\n{script}\n")
        exe.chmod(0o755)
        monkeypatch.setenv("PATH", f"{exe.parent}:/usr/bin:/bin")
        return exe

    return install
