"""A snippet runs as `python snippet.py ARGS` would, and the interpreter is put back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import SNIPPETS

from gradviz.errors import SnippetError, SnippetSyntaxError
from gradviz.execute import format_snippet_traceback, load_snippet, run_snippet


def test_runs_as_main_with_argv_path_and_file(capsys: pytest.CaptureFixture[str]) -> None:
    snippet = load_snippet(SNIPPETS / "argv.py")
    result = run_snippet(snippet, ["2.5", "--flag"])
    out = capsys.readouterr().out.splitlines()
    assert "name __main__" in out
    assert "argv ['2.5', '--flag']" in out
    assert f"path0 {SNIPPETS}" in out
    assert f"file {SNIPPETS / 'argv.py'}" in out
    assert result.exit_code == 0 and result.error is None
    assert result.namespace["scale"] == 2.5


def test_interpreter_state_is_restored() -> None:
    argv, path, main = sys.argv[:], sys.path[:], sys.modules["__main__"]
    run_snippet(load_snippet(SNIPPETS / "argv.py"), ["1"])
    run_snippet(load_snippet(SNIPPETS / "raises.py"))
    assert sys.argv == argv and sys.path == path and sys.modules["__main__"] is main


def test_a_snippet_that_changes_folder_leaves_the_output_where_the_user_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.chdir`` in the snippet must not move ``-o out.svg`` (nor anything gradviz
    writes after the run) to the snippet's folder of choice."""
    from click.testing import CliRunner

    from gradviz.cli import cli

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    here = tmp_path / "here"
    here.mkdir()
    snippet = here / "wander.py"
    snippet.write_text(
        f"import os\nimport torch\nos.chdir({str(elsewhere)!r})\n"
        "x = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\n"
    )
    monkeypatch.chdir(here)
    result = CliRunner().invoke(cli, ["run", "wander.py", "-o", "out/graph.svg"])
    assert result.exit_code == 0, result.output
    assert (here / "out" / "graph.svg").is_file()
    assert list(elsewhere.iterdir()) == []
    assert Path.cwd() == here


def test_gradviz_still_speaks_after_a_snippet_swallows_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from gradviz.cli import cli

    (tmp_path / "quiet.py").write_text(
        "import io, sys\nimport torch\nsys.stderr = io.StringIO()\nsys.stdout = io.StringIO()\n"
        "x = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\nprint('hidden')\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "quiet.py", "-o", "graph.svg"])
    assert result.exit_code == 0
    assert "gradviz: wrote graph.svg" in result.output and "hidden" not in result.output


def test_namespace_survives_an_exception() -> None:
    result = run_snippet(load_snippet(SNIPPETS / "raises.py"))
    assert isinstance(result.error, RuntimeError)
    assert result.exit_code == 1 and "h" in result.namespace


def test_traceback_keeps_only_the_snippets_frames() -> None:
    snippet = load_snippet(SNIPPETS / "raises.py")
    result = run_snippet(snippet)
    assert result.error is not None
    text = format_snippet_traceback(result.error, snippet)
    assert text.startswith("Traceback (most recent call last):")
    assert f'File "{snippet.filename}", line 10, in <module>' in text
    assert f'File "{snippet.filename}", line 5, in project' in text
    assert "gradviz" not in text.replace(str(SNIPPETS), "")
    assert text.rstrip().endswith(
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3 and 5x5)"
    )


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("import sys\nsys.exit(0)\n", 0),
        ("import sys\nsys.exit()\n", 0),
        ("import sys\nsys.exit(4)\n", 4),
        ("import sys\nsys.exit('bye')\n", 1),
        ("raise KeyboardInterrupt\n", 130),
        ("raise ValueError('x')\n", 1),
    ],
)
def test_exit_codes_like_python(tmp_path: Path, source: str, code: int) -> None:
    path = tmp_path / "s.py"
    path.write_text(source)
    assert run_snippet(load_snippet(path)).exit_code == code


def test_missing_folder_and_binary_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SnippetError, match="no such file"):
        load_snippet(tmp_path / "nope.py")
    with pytest.raises(SnippetError, match="is a folder"):
        load_snippet(tmp_path)
    binary = tmp_path / "b.py"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    with pytest.raises(SnippetError, match="binary"):
        load_snippet(binary)


def test_encodings_follow_pep_263(tmp_path: Path) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes("# -*- coding: latin-1 -*-\nname = 'café'\n".encode("latin-1"))
    assert run_snippet(load_snippet(latin)).namespace["name"] == "café"
    broken = tmp_path / "broken.py"
    broken.write_bytes("name = 'café'\n".encode("latin-1"))
    with pytest.raises(SnippetError, match="not valid text") as info:
        load_snippet(broken)
    assert info.value.hint and "UTF-8" in info.value.hint


def test_syntax_error_names_file_line_column_with_a_caret(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("x = 1\ny = (x +\n")
    with pytest.raises(SnippetSyntaxError) as info:
        load_snippet(path)
    first, *rest = info.value.message.splitlines()
    assert first.startswith(f"{path}:2:")
    assert "SyntaxError" in first
    assert rest[0].strip() == "y = (x +" and rest[1].strip() == "^"


def _notebook(path: Path, *cells: tuple[str, str]) -> Path:
    """Write a notebook (nbformat 4) of (cell type, source) cells."""
    import json

    path.write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": kind, "metadata": {}, "source": source.splitlines(True)}
                    | ({"execution_count": None, "outputs": []} if kind == "code" else {})
                    for kind, source in cells
                ],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    return path


def test_a_notebook_runs_its_code_cells_as_one_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Markdown is left out; IPython's magics, shell and help lines become ``pass`` (one
    inside a loop keeps the loop valid); ``%%time`` keeps its body, ``%%bash`` is dropped."""
    nb = _notebook(
        tmp_path / "lecture.ipynb",
        ("markdown", "# Gradient tracking\n"),
        ("code", "%matplotlib inline\n!pip install torch\ntotal = 0\ntotal?\n"),
        ("code", "%%time\nfor i in range(3):\n    %time total += i\n    total += i\n"),
        ("code", "%%bash\necho not python\n"),
        ("code", "print('total', total)\nraise ValueError('cell 5')"),
    )
    snippet = load_snippet(nb)
    result = run_snippet(snippet)
    assert capsys.readouterr().out == "total 3\n"
    assert isinstance(result.error, ValueError)
    text = format_snippet_traceback(result.error, snippet)
    assert "raise ValueError('cell 5')" in text  # the script's line, not the notebook's JSON
    assert "lecture.ipynb" in text


def test_what_is_not_a_notebook_is_refused_with_exit_11(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(SnippetError) as info:
        load_snippet(broken)
    assert info.value.exit_code == 11 and "is not valid JSON" in str(info.value)
    other = tmp_path / "other.ipynb"
    other.write_text('{"worksheets": []}')
    with pytest.raises(SnippetError) as info:
        load_snippet(other)
    assert info.value.exit_code == 11 and "has no list of cells" in str(info.value)
