"""Every error a user can see, as a class with its own exit code and a hint.

Only the CLI prints them (click does, through ``ClickException.show``); code deep
inside gradviz raises and never calls ``sys.exit``. The exit codes are documented
in the README; keep the two in step.
"""

from __future__ import annotations

from typing import IO, Any

import click

__all__ = [
    "DotError",
    "GradvizError",
    "InputError",
    "NoGraphError",
    "OutputError",
    "SnippetEncodingError",
    "SnippetError",
    "SnippetNeedsInput",
    "SnippetNotFound",
    "SnippetNotPython",
    "SnippetSyntaxError",
    "SnippetTimeout",
    "TargetError",
]


class GradvizError(click.ClickException):
    """Base class: a one-line message, an optional hint, and an exit code."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def format_message(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"gradviz: error: {self.format_message()}", file=file, err=file is None)


class SnippetError(GradvizError):
    """The snippet cannot be used; each subclass says why, with its own exit code."""

    exit_code = 3


class SnippetNotFound(SnippetError):
    """No file at the snippet's path."""

    exit_code = 3


class SnippetNotPython(SnippetError):
    """The path is a folder, a binary file, or cannot be read."""

    exit_code = 11


class SnippetEncodingError(SnippetError):
    """The snippet is not valid text in its encoding (UTF-8, or its PEP 263 line)."""

    exit_code = 12


class SnippetNeedsInput(GradvizError):
    """The snippet called ``input()`` and there was no standard input to read."""

    exit_code = 13


class SnippetTimeout(GradvizError):
    """The snippet ran past ``--timeout`` and was stopped (the code ``timeout(1)`` uses)."""

    exit_code = 124


class SnippetSyntaxError(GradvizError):
    """The snippet does not compile; the message carries file:line:col and a caret."""

    exit_code = 4


class NoGraphError(GradvizError):
    """The snippet ran but left no autograd graph to show."""

    exit_code = 5


class DotError(GradvizError):
    """Graphviz's ``dot`` is missing, failed or timed out."""

    exit_code = 6


class OutputError(GradvizError):
    """The output file cannot be written, or its format is unknown."""

    exit_code = 7


class TargetError(GradvizError):
    """``--target NAME`` names nothing usable in the snippet."""

    exit_code = 8


class InputError(GradvizError):
    """A graph file given to ``gradviz render`` is not a valid gradviz capture."""

    exit_code = 9
