"""The explanation as a rich Tree for the terminal (plain text when not a terminal).

``story_renderable`` returns a renderable; the CLI owns the Console that prints
it. Every piece of text is a ``rich.text.Text``, never markup, so a variable
name like ``[bold]`` prints as itself.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from gradviz.explain.story import DEPTH_LIMIT, Line, Span, Step, Story

__all__ = ["STYLES", "story_renderable"]

STYLES = {
    "name": "bold",
    "code": "cyan",
    "muted": "dim",
    "tag": "blue",
    "op": "yellow",
    "value": "",
    "grad": "red",
    "math": "magenta",
    "note": "bold",
}


def _line(line: Line) -> Text:
    text = Text()
    for span in line:
        text.append(span.text, style=STYLES.get(span.style, ""))
    return text


def _head(line: Line, room: int) -> Text:
    """The tensor's line; when it would wrap, its numbers go on a line of their own."""
    text = _line(line)
    if text.cell_len <= room:
        return text
    at = next((i for i, span in enumerate(line) if span.text == "  value "), None)
    if at is None:
        return text
    first, rest = _line(line[:at]), _line((Span("value ", "muted"), *line[at + 1 :]))
    first.append("\n")
    first.append_text(rest)
    return first


def _label(step: Step, room: int) -> Text:
    text = _head(step.head, room)
    for line in step.body:
        text.append("\n")
        text.append_text(_line(line))
    return text


def _tree(step: Step, width: int, tree: Tree | None = None, level: int = 0) -> Tree:
    label = _label(step, width - 4 * level)
    node = Tree(label, guide_style="dim") if tree is None else tree.add(label)
    for child in step.children:
        _tree(child, width, node, level + 1)
    return node


def story_renderable(story: Story, width: int = 80) -> RenderableType:
    parts: list[RenderableType] = [_line(line) for line in story.header]
    for tree in story.trees:
        parts.append(Text())
        parts.append(_tree(tree, width))
    if story.footer:
        parts.append(Text())
        parts.extend(_line(line) for line in story.footer)
    if story.omitted:
        parts.append(Text())
        more = (
            "(gradviz run draws them all)"
            if story.depth is not None and story.depth >= DEPTH_LIMIT
            else "(raise --depth to see them)"
        )
        parts.append(
            Text(f"… {story.omitted} more tensors below depth {story.depth} {more}", style="dim")
        )
    return Group(*parts)
