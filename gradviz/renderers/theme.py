"""Colours and fonts of a picture, in one place so that themes can swap them whole.

Every kind of node differs by more than colour (shape, border weight, a tag in
its header), so a picture still reads in grey and for colour-blind readers.
``print`` uses no colour at all; ``colorblind`` uses the Okabe-Ito palette,
which stays distinct under protanopia and deuteranopia; ``dark`` is for dark
slide decks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["COLORBLIND", "DARK", "LIGHT", "PRINT", "THEMES", "Palette", "Theme"]


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

    def with_font(self, font: str | None) -> Theme:
        return self if not font else replace(self, font=font)


_SANS = "Helvetica,Arial,sans-serif"
_MONO = "DejaVu Sans Mono,Menlo,Consolas,monospace"

LIGHT = Theme(
    name="light",
    background="white",
    font=_SANS,
    mono=_MONO,
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

DARK = Theme(
    name="dark",
    background="#111827",
    font=_SANS,
    mono=_MONO,
    text="#f9fafb",
    muted="#9ca3af",
    edge="#9ca3af",
    grad="#fca5a5",
    leaf=Palette(fill="#1e3a8a", border="#93c5fd", text="#f9fafb"),
    param=Palette(fill="#4c1d95", border="#c4b5fd", text="#f9fafb"),
    tensor=Palette(fill="#1f2937", border="#9ca3af", text="#f9fafb"),
    output=Palette(fill="#14532d", border="#86efac", text="#f9fafb"),
    op=Palette(fill="#78350f", border="#fcd34d", text="#fef3c7"),
)

PRINT = Theme(
    name="print",
    background="white",
    font=_SANS,
    mono=_MONO,
    text="#000000",
    muted="#555555",
    edge="#000000",
    grad="#000000",
    leaf=Palette(fill="white", border="#000000", text="#000000"),
    param=Palette(fill="white", border="#000000", text="#000000"),
    tensor=Palette(fill="white", border="#6e6e6e", text="#000000"),
    output=Palette(fill="white", border="#000000", text="#000000"),
    op=Palette(fill="#e6e6e6", border="#000000", text="#000000"),
)

# Okabe & Ito (2008): sky blue, reddish purple, bluish green, orange, vermillion.
COLORBLIND = Theme(
    name="colorblind",
    background="white",
    font=_SANS,
    mono=_MONO,
    text="#000000",
    muted="#555555",
    edge="#333333",
    grad="#a63f00",
    leaf=Palette(fill="#d4ecfa", border="#0072b2", text="#000000"),
    param=Palette(fill="#f5dcea", border="#cc79a7", text="#000000"),
    tensor=Palette(fill="#eeeeee", border="#777777", text="#000000"),
    output=Palette(fill="#cdeee3", border="#009e73", text="#000000"),
    op=Palette(fill="#fbe7c2", border="#e69f00", text="#000000"),
)

THEMES = {t.name: t for t in (LIGHT, DARK, PRINT, COLORBLIND)}
