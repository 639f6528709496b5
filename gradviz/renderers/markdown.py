"""The explanation as Markdown, for lecture notes: nested lists, formulas in code spans."""

from __future__ import annotations

from gradviz.explain.story import Line, Step, Story

__all__ = ["story_markdown"]


def _escape(text: str) -> str:
    """Text that Markdown shows as is (no emphasis, links or HTML from names)."""
    out = []
    for ch in text:
        if ch in "\\`*_[]<>&":
            out.append(
                "\\" + ch if ch not in "<>&" else {"<": "&lt;", ">": "&gt;", "&": "&amp;"}[ch]
            )
        else:
            out.append(ch)
    return "".join(out)


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_CODE_STYLES = ("code", "math", "value", "grad")


def _line(line: Line) -> str:
    """One line of the story; neighbouring formula pieces share one code span."""
    parts: list[str] = []
    code: list[str] = []
    for span in line:
        if span.style in _CODE_STYLES:
            code.append(span.text)
            continue
        if code:
            parts.append(_code("".join(code).strip()))
            code = []
        text = span.text.strip()
        if not text:
            continue
        parts.append(f"**{_escape(text)}**" if span.style == "name" else _escape(text))
    if code:
        parts.append(_code("".join(code).strip()))
    return " ".join(p for p in parts if p.strip("`"))


def _step(step: Step, level: int, out: list[str]) -> None:
    indent = "  " * level
    out.append(f"{indent}- {_line(step.head)}")
    for line in step.body:
        out.append(f"{indent}  <br>{_line(line)}")
    for child in step.children:
        _step(child, level + 1, out)


def story_markdown(story: Story, title: str) -> str:
    out = [f"# {_escape(title)}", ""]
    out.extend(_line(line) + "  " for line in story.header)
    for tree in story.trees:
        out.append("")
        _step(tree, 0, out)
    if story.footer:
        out.append("")
        out.extend(_line(line) + "  " for line in story.footer)
    if story.omitted:
        out.append("")
        out.append(f"_{story.omitted} more tensors below depth {story.depth} are not shown._")
    return "\n".join(out).rstrip() + "\n"
