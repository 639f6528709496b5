"""Colours and fonts of a picture, in one place so that themes can swap them whole.

Every kind of node differs by more than colour (border weight, shape, a tag in
its header), so a picture still reads when printed in grey.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIGHT", "Palette", "Theme"]


@dataclass(frozen=True)
class Palette:
    fill: str
    border: str
    text: str


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    font: str
    mono: str
    text: str
    muted: str
    edge: str
    grad: str
    leaf: Palette
    param: Palette
    tensor: Palette
    output: Palette
    op: Palette


LIGHT = Theme(
    name="light",
    background="white",
    font="Helvetica,Arial,sans-serif",
    mono="DejaVu Sans Mono,Menlo,Consolas,monospace",
    text="#111827",
    muted="#6b7280",
    edge="#4b5563",
    grad="#b91c1c",
    leaf=Palette(fill="#dbeafe", border="#1d4ed8", text="#111827"),
    param=Palette(fill="#ede9fe", border="#6d28d9", text="#111827"),
    tensor=Palette(fill="#f3f4f6", border="#6b7280", text="#111827"),
    output=Palette(fill="#dcfce7", border="#15803d", text="#111827"),
    op=Palette(fill="#fef3c7", border="#b45309", text="#78350f"),
)
