"""The ``gradviz`` command line.

Imports only click and the standard library at module level: ``gradviz --help``
must not pay for torch. Each command checks what it can before running the
snippet (file, output format, Graphviz), so mistakes fail in milliseconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gradviz import __version__
from gradviz.collector import paused

if TYPE_CHECKING:
    from rich.console import Console

    from gradviz.execute import Snippet
    from gradviz.explain.story import Story
    from gradviz.model import Graph
    from gradviz.renderers import OutputFormat
    from gradviz.renderers.base import Renderer, RenderOptions
    from gradviz.session import Outcome

__all__ = ["cli", "main"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# the names of renderers.FORMATS, written out so that --help imports no renderer
FORMAT_NAMES = ["svg", "png", "pdf", "dot", "json", "mermaid", "html"]


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="gradviz")
def cli() -> None:
    """See the autograd graph PyTorch builds for your code, with the numbers on it.

    \b
      gradviz run snippet.py -o graph.svg    draw it (svg, png, pdf, html, dot, json, mmd)
      gradviz render graph.json -o g.png     draw a saved capture again, without torch
      gradviz explain snippet.py             walk the chain rule in the terminal
      gradviz doctor snippet.py              find vanishing, exploding or NaN gradients
    """


F = TypeVar("F", bound=Callable[..., Any])


def _snippet_command(what: str) -> Callable[[F], F]:
    """The arguments and options every command that runs a snippet shares."""

    def decorate(fn: F) -> F:
        for option in reversed(
            [
                click.argument("snippet", type=click.Path(path_type=Path)),
                click.argument("args", nargs=-1, type=click.UNPROCESSED),
                click.option(
                    "--target",
                    "targets",
                    multiple=True,
                    metavar="NAME",
                    help=f"{what} the graph of this variable (repeatable). Default: the "
                    "tensors backward() was called on.",
                ),
                click.option(
                    "--partial",
                    is_flag=True,
                    help=f"If the snippet raises, still {what.lower()} the graph it had built.",
                ),
                click.option(
                    "--timeout",
                    type=click.FloatRange(min=0, min_open=True),
                    metavar="SECONDS",
                    help="Run the snippet in a child process and stop it after SECONDS.",
                ),
                click.option(
                    "--stop-after",
                    type=click.IntRange(min=1),
                    metavar="N",
                    help=f"End the snippet after its N-th backward pass and {what.lower()} "
                    "what it built: a training script need not run to its end.",
                ),
            ]
        ):
            fn = option(fn)
        return fn

    return decorate


_STYLE_OPTIONS = [
    click.option(
        "--theme",
        type=click.Choice(["light", "dark", "print", "colorblind"]),
        default="light",
        show_default=True,
        help="Colours for light or dark slides, grey print, or colour-blind readers.",
    ),
    click.option("--transparent", is_flag=True, help="No background (for coloured slides)."),
    click.option("--font", help="Font family for labels (numbers stay monospaced)."),
    click.option("--font-size", type=click.FloatRange(min=4), default=11.0, show_default=True),
    click.option("--legend", is_flag=True, help="Add a key to the kinds of node."),
    click.option("--title", help="A title above the graph."),
    click.option(
        "--direction",
        type=click.Choice(["forward", "backward"]),
        default="forward",
        show_default=True,
        help="forward: inputs to outputs; backward: the way autograd walks, from the outputs.",
    ),
    click.option(
        "--rankdir",
        type=click.Choice(["TB", "LR", "BT", "RL"]),
        help="Layout direction: top to bottom (default), left to right, ...",
    ),
    click.option("--compact", is_flag=True, help="Names and ops only, no numbers."),
    click.option("--no-values", is_flag=True, help="Leave out forward values."),
    click.option("--no-grads", is_flag=True, help="Leave out gradients."),
    click.option("--saved", is_flag=True, help="Show what each op saved for backward."),
    click.option(
        "--edge-grads", is_flag=True, help="Label each edge with the gradient that flowed along it."
    ),
    click.option(
        "--color-by",
        type=click.Choice(["grad", "value"]),
        help="Colour tensors and size edges by the norm of their gradient or value (log scale).",
    ),
    click.option(
        "--precision",
        type=click.IntRange(1, 12),
        default=4,
        show_default=True,
        help="Significant digits of numbers.",
    ),
    click.option(
        "--max-elements",
        type=click.IntRange(min=2),
        default=6,
        show_default=True,
        help="Numbers shown per row and rows per tensor; the middle is cut.",
    ),
    click.option(
        "--dpi",
        type=click.FloatRange(min=10),
        default=144.0,
        show_default=True,
        help="PNG resolution.",
    ),
    click.option(
        "--scale",
        type=click.FloatRange(min=0, min_open=True),
        default=1.0,
        show_default=True,
        help="Multiply the PNG resolution (2 for a retina slide).",
    ),
    click.option(
        "--width",
        type=click.IntRange(min=16),
        metavar="PX",
        help="Fit the picture to this width in pixels (with --height: fill the box).",
    ),
    click.option(
        "--height",
        type=click.IntRange(min=16),
        metavar="PX",
        help="Fit the picture to this height in pixels (1080 for a 16:9 slide).",
    ),
    click.option(
        "--dot-timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=60.0,
        show_default=True,
        metavar="SECONDS",
        help="Stop Graphviz's layout after SECONDS (the .dot is kept).",
    ),
    click.option("--modules", is_flag=True, help="Draw each module call as a cluster."),
    click.option(
        "--module-depth",
        "--depth",
        "module_depth",
        type=click.IntRange(min=1),
        metavar="N",
        help="Draw every module call at depth N (1: the snippet's own modules) as one node.",
    ),
    click.option(
        "--no-fold",
        is_flag=True,
        help="Draw every repeat of a repeated block (past 150 nodes one stands for all).",
    ),
    click.option(
        "--max-nodes",
        type=click.IntRange(min=10),
        default=500,
        show_default=True,
        metavar="N",
        help="Past N nodes, collapse modules, then keep what is nearest the outputs.",
    ),
]
STYLE_NAMES = [
    "theme", "transparent", "font", "font_size", "legend", "title", "direction", "rankdir",
    "compact", "no_values", "no_grads", "saved", "edge_grads", "color_by", "precision",
    "max_elements", "dpi", "scale", "width", "height", "dot_timeout", "modules",
    "module_depth", "max_nodes", "no_fold",
]  # fmt: skip


def _not_an_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """A path as typed, refused when it looks like an option: ``--frames -o g.svg``
    would otherwise make a folder named ``-o``."""
    if value is None:
        return None
    if value.startswith("-"):
        raise click.BadParameter(
            f"{value!r} looks like an option, not a path (write ./{value} for a file "
            "whose name starts with -)"
        )
    return Path(value)


def _picture_options(fn: F) -> F:
    """Where a picture goes and in which format: shared by `run` and `render`."""
    fn = click.option(
        "-f", "--format", "fmt", type=click.Choice(FORMAT_NAMES), help="Format, whatever -o says."
    )(fn)
    return click.option(
        "-o",
        "--output",
        type=click.Path(),
        callback=_not_an_option,
        help="Output file; its suffix picks the format. Default: the input's name with .svg, "
        "in the current folder.",
    )(fn)


def _style_options(fn: F) -> F:
    """How a picture looks: shared by `run` and `render`, defaults from gradviz.toml."""
    for option in reversed(_STYLE_OPTIONS):
        fn = option(fn)
    return fn


def _render_options(style: dict[str, Any], near: Path) -> RenderOptions:
    """RenderOptions from the command line, over the deck defaults found near ``near``."""
    from click.core import ParameterSource

    from gradviz.config import ConfigError, find_defaults
    from gradviz.renderers.base import RenderOptions

    ctx = click.get_current_context()
    path, defaults = find_defaults(near)
    unknown = sorted(set(defaults) - set(STYLE_NAMES))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting {unknown[0].replace('_', '-')!r}",
            hint="settings: " + ", ".join(n.replace("_", "-") for n in STYLE_NAMES),
        )
    params = {p.name: p for p in ctx.command.params}
    for name, value in defaults.items():
        if ctx.get_parameter_source(name) == ParameterSource.DEFAULT:
            try:
                style[name] = params[name].type_cast_value(ctx, value)
            except click.BadParameter as exc:
                raise ConfigError(f"{path}: {name.replace('_', '-')}: {exc.message}") from None
    return RenderOptions(
        direction=style["direction"],
        color_by=style["color_by"],
        theme=style["theme"],
        transparent=style["transparent"],
        font=style["font"],
        font_size=style["font_size"],
        legend=style["legend"],
        rankdir=style["rankdir"],
        compact=style["compact"],
        values=not style["no_values"],
        grads=not style["no_grads"],
        saved=style["saved"],
        edge_grads=style["edge_grads"],
        max_items=style["max_elements"],
        precision=style["precision"],
        title=style["title"],
        dpi=style["dpi"],
        scale=style["scale"],
        width=style["width"],
        height=style["height"],
        dot_timeout=style["dot_timeout"],
        modules=style["modules"],
        module_depth=style["module_depth"],
        max_nodes=style["max_nodes"],
        fold=not style["no_fold"],
    )


def _terminal_options(fn: F) -> F:
    fn = click.option("--width", type=click.IntRange(min=40), help="Wrap at this many columns.")(fn)
    return click.option("--no-color", is_flag=True, help="No colours, even on a terminal.")(fn)


@cli.command(context_settings=CONTEXT)
@_snippet_command("Draw")
@_picture_options
@click.option(
    "--frames",
    type=click.Path(file_okay=False),
    callback=_not_an_option,
    metavar="DIR",
    help="Also write one SVG per op, the graph as it grew, with an index.html.",
)
@_style_options
def run(
    snippet: Path,
    args: tuple[str, ...],
    targets: tuple[str, ...],
    partial: bool,
    timeout: float | None,
    stop_after: int | None,
    output: Path | None,
    fmt: str | None,
    frames: Path | None,
    **style: Any,
) -> None:
    """Run SNIPPET as `python SNIPPET ARGS` would and draw the autograd graph of its outputs.

    Each tensor shows its name, shape, value and gradient; each op its name.
    A Jupyter notebook (.ipynb) runs its code cells, top to bottom, as one
    script. Arguments for the snippet go after `--`:

    \b
      gradviz run train.py -o graph.png -- --lr 0.1
    """
    loaded = _load(snippet)
    options = _render_options(style, snippet.parent if snippet.parent.exists() else Path("."))
    target = _output_target(fmt, output, Path(snippet.stem), snippet)
    if frames is not None:
        _require_dot()
    outcome = _capture(loaded, args, targets, partial, timeout, stop_after)
    assert outcome.graph is not None
    _draw(outcome.graph, target, options)
    if frames is not None:
        _frames(outcome.graph, frames, options)
    _exit_like_snippet(outcome)


@cli.command(context_settings=CONTEXT)
@click.argument("graph_file", metavar="GRAPH.json", type=click.Path(path_type=Path))
@_picture_options
@_style_options
def render(graph_file: Path, output: Path | None, fmt: str | None, **style: Any) -> None:
    """Draw a capture saved with `gradviz run -o GRAPH.json` again: no torch, no code run.

    The file is read as JSON only and checked against the graph schema first, so a
    deck can keep its captures and restyle them all in one command.
    """
    from gradviz.validate import read_graph

    options = _render_options(style, graph_file.parent if graph_file.parent.exists() else Path("."))
    graph = read_graph(graph_file)
    target = _output_target(fmt, output, Path(graph_file.stem), graph_file)
    _draw(graph, target, options)


@cli.command(context_settings=CONTEXT)
@_snippet_command("Explain")
@click.option("--depth", type=click.IntRange(min=0), help="Show at most this many levels.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the explanation to a file (.md for Markdown, else plain text).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    help="text (the default; a tree) or markdown (lecture notes).",
)
@_terminal_options
def explain(
    snippet: Path,
    args: tuple[str, ...],
    targets: tuple[str, ...],
    partial: bool,
    timeout: float | None,
    stop_after: int | None,
    depth: int | None,
    output: Path | None,
    fmt: str | None,
    no_color: bool,
    width: int | None,
) -> None:
    """Run SNIPPET and explain, node by node, how the chain rule gave each gradient.

    From each output down to its leaves: every tensor with the line that made it,
    its value and gradient, and the rule of the op that passed it its gradient,
    with this run's numbers. Colour only on a terminal.
    """
    if fmt is None:
        fmt = "markdown" if output is not None and output.suffix.lower() == ".md" else "text"
    if output is not None:
        _check_output(output, snippet)
    loaded = _load(snippet)
    outcome = _capture(loaded, args, targets, partial, timeout, stop_after)
    assert outcome.graph is not None
    from gradviz.explain.story import tell

    with paused():
        story = tell(outcome.graph, depth)
    if fmt == "markdown":
        from gradviz.renderers.markdown import story_markdown

        text = story_markdown(story, f"How the gradients of {snippet.name} came to be")
        _emit_text(text, output)
    else:
        _emit_tree(story, output, no_color, width)
    _exit_like_snippet(outcome)


@cli.command(context_settings=CONTEXT)
@_snippet_command("Judge")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Also write the report as JSON."
)
@click.option(
    "--vanish",
    type=float,
    default=1e-6,
    show_default=True,
    help="A gradient norm under this fraction of |loss| has vanished.",
)
@click.option(
    "--explode",
    type=float,
    default=1e3,
    show_default=True,
    help="A gradient norm over this has exploded.",
)
@_terminal_options
def doctor(
    snippet: Path,
    args: tuple[str, ...],
    targets: tuple[str, ...],
    partial: bool,
    timeout: float | None,
    stop_after: int | None,
    output: Path | None,
    vanish: float,
    explode: float,
    no_color: bool,
    width: int | None,
) -> None:
    """Run SNIPPET and check its gradients: vanishing, exploding, missing, NaN or Inf.

    Lists every parameter with the norms of its value and gradient, then each
    problem with the snippet line it comes from. Exits 10 when it finds one, so
    it can guard a training script in CI.
    """
    if output is not None:
        _check_output(output, snippet)
    loaded = _load(snippet)
    outcome = _capture(loaded, args, targets, partial, timeout, stop_after)
    assert outcome.graph is not None
    from gradviz.health import diagnose
    from gradviz.renderers.doctor import report_json, report_renderable

    with paused():
        report = diagnose(outcome.graph, vanish=vanish, explode=explode)
    _console(no_color, width).print(report_renderable(report, len(outcome.graph.passes)))
    if output is not None:
        _emit_text(report_json(report, snippet.name), output)
    _exit_like_snippet(outcome)
    if not report.healthy:
        sys.exit(PROBLEMS_FOUND)


PROBLEMS_FOUND = 10


def _output_target(
    fmt: str | None, output: Path | None, stem: Path, source: Path
) -> tuple[OutputFormat, Path]:
    """The format and file to write, checked before any slow work starts."""
    from gradviz.renderers import format_for

    if output is not None:
        _check_output(output, source)  # before its suffix is read as a format
    out_format = format_for(fmt, output)
    if output is None:
        output = Path(stem.name + out_format.suffixes[0])
        _check_output(output, source)
    if out_format.needs_dot:
        _require_dot()
    return out_format, output


def _draw(graph: Graph, target: tuple[OutputFormat, Path], options: RenderOptions) -> None:
    with paused():  # gradviz alone allocates from here: no collections (see collector)
        _draw_now(graph, target, options)


def _draw_now(graph: Graph, target: tuple[OutputFormat, Path], options: RenderOptions) -> None:
    from gradviz.output import write_atomic
    from gradviz.renderers import make_renderer

    out_format, output = target
    drawn = graph
    if out_format.name != "json":  # the JSON keeps the whole graph
        from gradviz.transforms import for_picture

        drawn, notes = for_picture(
            graph,
            fold=options.fold,
            module_depth=options.module_depth,
            max_nodes=options.max_nodes,
        )
        for note in notes:
            click.echo(f"gradviz: {note}", err=True)
    renderer = make_renderer(out_format, options)
    busy = f"laying out {len(drawn.nodes)} nodes with Graphviz" if out_format.needs_dot else None
    with _status(busy):
        data = _render_keeping_dot(renderer, drawn, output, options)
    write_atomic(output, data)
    click.echo(f"gradviz: wrote {output} ({_describe(graph)})", err=True)


def _frames(graph: Graph, folder: Path, options: RenderOptions) -> None:
    from gradviz.frames import MAX_FRAMES, write_frames

    with paused():
        count, steps = write_frames(graph, folder, options)
    more = ""
    if count < steps:
        more = (
            f"; the first {count} of {steps} steps (at most {MAX_FRAMES} frames, "
            f"none past {options.max_nodes} nodes)"
        )
    click.echo(f"gradviz: wrote {count} frames and {folder / 'index.html'}{more}", err=True)


@contextmanager
def _status(message: str | None) -> Iterator[None]:
    """A spinner on stderr while something slow runs, only when stderr is a terminal."""
    if message is None or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message + "…"):
        yield


def _console(no_color: bool, width: int | None, file: Any = None) -> Console:
    from rich.console import Console

    return Console(
        file=file,
        width=width,
        color_system=None if no_color else "auto",
        highlight=False,
        emoji=False,
    )


def _emit_text(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from gradviz.output import write_atomic

    write_atomic(output, text)
    click.echo(f"gradviz: wrote {output}", err=True)


def _emit_tree(story: Story, output: Path | None, no_color: bool, width: int | None) -> None:
    import io

    from gradviz.renderers.tree import story_renderable

    if output is not None:
        buffer = io.StringIO()
        console = _console(True, width or 100, buffer)
        console.print(story_renderable(story, console.width))
        _emit_text(buffer.getvalue(), output)
        return
    console = _console(no_color, width)
    console.print(story_renderable(story, console.width))


def _check_output(output: Path, snippet: Path) -> None:
    """Refuse, before anything runs, an output that is a folder or the snippet itself."""
    from gradviz.errors import OutputError

    if output.is_dir():
        raise OutputError(f"{output}: is a folder", hint="name a file, e.g. -o graph.svg")
    try:
        same = output.resolve() == snippet.resolve()
    except OSError:
        same = False
    if same:
        raise OutputError(
            f"{output}: is the snippet itself; refusing to overwrite it",
            hint="choose another -o file, e.g. graph.svg",
        )


def _require_dot() -> None:
    from gradviz.errors import DotError
    from gradviz.renderers.image import DOT_INSTALL_HINT, dot_available

    if not dot_available():
        raise DotError("Graphviz's 'dot' program is not installed", hint=DOT_INSTALL_HINT)


def _load(snippet: Path) -> Snippet:
    from gradviz.execute import load_snippet

    return load_snippet(snippet)


def _capture(
    snippet: Snippet,
    args: Sequence[str],
    targets: Sequence[str],
    partial: bool,
    timeout: float | None = None,
    stop_after: int | None = None,
) -> Outcome:
    """Run and capture; report a failing snippet the way Python would, then decide.

    Returns only with a graph to show: otherwise it exits the way the snippet
    did, or raises the error that says why there is nothing to show.
    """
    import time

    from gradviz.errors import SnippetNeedsInput
    from gradviz.session import run_capture

    started = time.perf_counter()
    with _status(f"running {snippet.path}" if timeout is None else None):
        outcome = run_capture(snippet, args, targets, timeout, stop_after)
    _suggest_stopping_early(outcome, stop_after, time.perf_counter() - started)
    _say_grads_changed(outcome)
    if outcome.stopped:
        click.echo(
            f"gradviz: ended {snippet.path} after its backward pass {stop_after} "
            "(--stop-after); the rest of it did not run",
            err=True,
        )
    if outcome.internal_errors:
        import os

        click.echo(
            f"gradviz: note: the recorder failed {len(outcome.internal_errors)} time(s); what "
            "it missed shows as 'not recorded' (GRADVIZ_DEBUG=1 lists why)",
            err=True,
        )
        if os.environ.get("GRADVIZ_DEBUG"):
            for problem in outcome.internal_errors:
                click.echo(f"  {problem}", err=True)
    if outcome.error == "exit":
        if outcome.traceback and outcome.traceback.strip() not in ("", str(outcome.exit_code)):
            sys.stderr.write(outcome.traceback)
    elif outcome.error is not None:
        if outcome.error == "needs_input":
            line = _last_snippet_line(outcome.traceback or "", snippet)
            raise SnippetNeedsInput(
                f"{snippet.path}{line}: the snippet called input(), but there is no standard "
                "input to read",
                hint="pipe in what it asks for (echo 3 | gradviz run ...), or give it "
                "arguments after --",
            )
        sys.stderr.write(outcome.traceback or "")
        if outcome.error == "interrupt":
            click.echo("gradviz: interrupted", err=True)
            sys.exit(130)
        if not partial or outcome.graph is None:
            click.echo(
                f"gradviz: {snippet.path} raised an exception; nothing was drawn"
                + ("" if partial else " (--partial draws the graph it had built)"),
                err=True,
            )
            from gradviz.hints import hint_for

            hint = hint_for(outcome.traceback or "")
            if hint:
                click.echo(f"  hint: {hint}", err=True)
            sys.exit(outcome.exit_code)
    if outcome.graph is None:
        assert outcome.problem is not None
        raise outcome.problem
    return outcome


SLOW_RUN_S = 5.0
"""A captured run this long, over many backward passes, earns a word on --stop-after."""


def _suggest_stopping_early(outcome: Outcome, stop_after: int | None, took: float) -> None:
    """A training loop of many steps runs whole under gradviz, every step recorded, while
    the picture keeps only the last: say so, and how to end the run sooner."""
    graph = outcome.graph
    if graph is None or stop_after is not None or took < SLOW_RUN_S or outcome.error:
        return
    total = graph.meta.passes_total
    if len(graph.passes) != 1 or total < 3:
        return
    click.echo(
        f"gradviz: note: the snippet ran {total:,} backward passes in {took:.0f} s; the "
        "picture shows the last. --stop-after 1 ends a run after its first pass, with that "
        "pass's numbers",
        err=True,
    )


def _say_grads_changed(outcome: Outcome) -> None:
    """``clip_grad_norm_`` or a GradScaler's ``unscale_`` rewrites ``.grad`` after backward:
    a reader comparing a printed ``.grad`` with the picture should know which is which."""
    changed = outcome.changed_grads
    if not changed or outcome.graph is None:
        return
    which = changed[0] + ".grad" + (f" and {len(changed) - 1} more" if len(changed) > 1 else "")
    click.echo(
        f"gradviz: note: {which} changed after the backward pass shown (by gradient "
        "clipping, a GradScaler's unscale_ or the like); the picture shows what backward "
        "gave",
        err=True,
    )


def _last_snippet_line(traceback_text: str, snippet: Snippet) -> str:
    """``:LINE`` of the innermost snippet frame in a formatted traceback, or nothing."""
    import re

    marker = f'File "{snippet.filename}", line '
    lines = re.findall(re.escape(marker) + r"(\d+)", traceback_text)
    return f":{lines[-1]}" if lines else ""


def _render_keeping_dot(
    renderer: Renderer, graph: Graph, output: Path, options: RenderOptions
) -> bytes | str:
    """Render; if Graphviz fails, write the DOT beside the output so nothing is lost."""
    from gradviz.errors import DotError
    from gradviz.output import write_atomic
    from gradviz.renderers.dot import DotRenderer

    try:
        return renderer.render(graph)
    except DotError as exc:
        if renderer.name in ("dot", "json"):
            raise
        keep = output.with_suffix(".dot")
        write_atomic(keep, DotRenderer("dot", options).render(graph))
        exc.hint = f"the graph was written to {keep}; " + (exc.hint or "")
        raise


def _describe(graph: Graph) -> str:
    counts = {"leaf": 0, "op": 0, "output": 0}
    for node in graph.nodes:
        if node.kind in counts:
            counts[node.kind] += 1
    passes = len(graph.passes)
    parts = [
        f"{len(graph.nodes)} nodes: {_plural(counts['leaf'], 'leaf', 'leaves')}, "
        f"{_plural(counts['op'], 'op')}, {_plural(counts['output'], 'output')}",
        f"{passes} backward pass{'es' if passes != 1 else ''}" if passes else "no backward pass",
    ]
    if graph.meta.partial:
        parts.append("partial")
    return "; ".join(parts)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _exit_like_snippet(outcome: Outcome) -> None:
    if outcome.exit_code:
        sys.exit(outcome.exit_code)


INTERNAL_ERROR = 70  # EX_SOFTWARE


def main() -> None:
    """Entry point of the ``gradviz`` console script.

    A bug in gradviz itself still ends in one message and its own exit code;
    ``GRADVIZ_DEBUG=1`` shows the traceback for a bug report.
    """
    import os

    try:
        cli(prog_name="gradviz", standalone_mode=True)
    except Exception as exc:  # click handles its own errors; anything here is ours
        if os.environ.get("GRADVIZ_DEBUG"):
            raise
        click.echo(
            f"gradviz: internal error: {type(exc).__name__}: {exc}\n"
            "  hint: this is a bug in gradviz; rerun with GRADVIZ_DEBUG=1 and report the "
            "traceback with your snippet",
            err=True,
        )
        sys.exit(INTERNAL_ERROR)
