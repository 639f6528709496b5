"""The doctor's report: a rich table and findings for the terminal, or JSON for CI."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradviz.display import format_shape
from gradviz.health import Finding, PathStep, Report

__all__ = ["report_json", "report_renderable"]

_STATUS_STYLE = {
    "ok": "green",
    "vanishing": "yellow",
    "stale": "yellow",
    "exploding": "red",
    "nan": "red",
    "no grad": "red",
    "frozen": "dim",
    "no effect": "dim",
    "flat": "dim",
    "zero factor": "dim",
    "copied": "dim",
    "not called": "dim",
    "not asked": "dim",
    "stopped": "dim",
    "not tracked": "dim",
    "swapped": "dim",
    "zero seed": "dim",
    "input": "dim",
}


def _num(x: float | None) -> str:
    if x is None:
        return "–"
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.3g}"


def _path_text(path: tuple[PathStep, ...], keep: int = 3) -> str:
    steps = [f"{s.label} {_num(s.grad_norm)}" for s in path]
    if len(steps) > 2 * keep + 1:
        steps = [*steps[:keep], f"… {len(steps) - 2 * keep} more …", *steps[-keep:]]
    return " → ".join(steps)


def report_renderable(report: Report, passes: int) -> RenderableType:
    parts: list[RenderableType] = []
    head = Text(f"{report.loss} = {_num(report.loss_value)}", style="bold")
    head.append(f"   {passes} backward pass{'es' if passes != 1 else ''}", style="dim")
    parts.append(head)
    if report.params:
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        for column in ("parameter", "shape", "|value|", "|grad|", "|grad|/|value|", "status"):
            table.add_column(column, justify="right" if column.startswith("|") else "left")
        for p in report.params:
            table.add_row(
                Text(p.name),
                format_shape(p.shape),
                _num(p.value_norm),
                _num(p.grad_norm),
                _num(p.ratio),
                Text(p.status, style=_STATUS_STYLE.get(p.status, "")),
            )
        parts.append(table)
    told: dict[str, int] = {}
    untold: dict[str, list[str]] = {}
    for note in report.notes:
        told[note.kind] = told.get(note.kind, 0) + 1
        if told[note.kind] > NOTES_PER_KIND:  # the table already marks each one
            untold.setdefault(note.kind, []).append(note.subject)
            continue
        parts.append(Text(f"note: {note.message}", style="dim"))
    for kind, subjects in untold.items():
        more = f"note: {len(subjects)} more {kind.replace('_', ' ')}: {', '.join(subjects)}"
        parts.append(Text(more, style="dim"))
    if report.healthy:
        parts.append(Text("✓ no problems found", style="green"))
        return Group(*parts)
    count = len(report.findings)
    parts.append(Text(f"{count} problem{'s' if count != 1 else ''}:", style="bold red"))
    shown_path = False
    per_kind: dict[str, int] = {}
    rest: dict[str, list[str]] = {}
    for f in report.findings:
        per_kind[f.kind] = per_kind.get(f.kind, 0) + 1
        if per_kind[f.kind] > SHOWN_PER_KIND:
            rest.setdefault(f.kind, []).append(f.subject)
            continue
        parts.append(_finding(f, show_path=not shown_path))
        shown_path = shown_path or bool(f.path)
    for kind, subjects in rest.items():
        line = Text("✗ ", style="red")
        line.append(f"{len(subjects)} more {kind.replace('_', ' ')}: ", style="bold")
        line.append(", ".join(subjects))
        parts.append(line)
    return Group(*parts)


SHOWN_PER_KIND = 3
"""Findings of one kind told in full; the rest are listed by name (a deep net has many)."""

NOTES_PER_KIND = 2
"""Notes of one kind told in full (every bias before a BatchNorm of a ResNet has one)."""


def _finding(f: Finding, show_path: bool) -> Text:
    text = Text("✗ ", style="red")
    text.append(f.kind.replace("_", " "), style="bold")
    text.append(f": {f.message}")
    if f.path and show_path:
        text.append(f"\n    norms from the loss down: {_path_text(f.path)}", style="dim")
    if f.culprit:
        verb = "shrank" if f.kind == "vanishing" else "grew"
        text.append(f"\n    the op that {verb} it most: {f.culprit}", style="dim")
    return text


def _json_number(x: float | None) -> Any:
    if x is None or math.isfinite(x):
        return x
    return str(x)


def report_json(report: Report, snippet: str) -> str:
    data = {
        "snippet": snippet,
        "loss": report.loss,
        "loss_norm": _json_number(report.loss_value),
        "healthy": report.healthy,
        "params": [
            {
                "name": p.name,
                "shape": list(p.shape),
                "value_norm": _json_number(p.value_norm),
                "grad_norm": _json_number(p.grad_norm),
                "ratio": _json_number(p.ratio),
                "status": p.status,
            }
            for p in report.params
        ],
        "findings": [_finding_json(f) for f in report.findings],
        "notes": [_finding_json(f) for f in report.notes],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "subject": f.subject,
        "message": f.message,
        "line": f.line,
        "culprit": f.culprit,
        "path": [
            {
                "tensor": s.label,
                "grad_norm": _json_number(s.grad_norm),
                "op": s.op,
                "line": s.line,
            }
            for s in f.path
        ],
    }
