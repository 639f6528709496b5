"""One line of help after a snippet's own traceback, for the mistakes copied code makes.

The snippet runs as ``python snippet.py`` would, so its error stays Python's;
gradviz only adds what a newcomer needs next: the import a slide left out,
where to install a package the snippet imports, why a ``.grad`` was None, or
the rule behind one of autograd's own errors.
"""

from __future__ import annotations

import re
import sys

__all__ = ["hint_for"]

_IMPORTS = {
    "torch": "import torch",
    "nn": "from torch import nn",
    "F": "import torch.nn.functional as F",
    "optim": "from torch import optim",
    "np": "import numpy as np",
    "math": "import math",
}
"""What a snippet copied from slides or a notebook cell most often forgot to import."""

_PIP_NAMES = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
}
"""Packages whose pip name is not their import name."""


def hint_for(traceback_text: str) -> str | None:
    """The hint for the last error in a formatted traceback, if gradviz has one."""
    return (
        _missing_import(traceback_text)
        or _missing_package(traceback_text)
        or _grad_was_none(traceback_text)
        or _autograd_rule(traceback_text)
        or _no_cuda(traceback_text)
        or _shapes(traceback_text)
        or _anomaly(traceback_text)
    )


_FIRST_MODEL: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"mat1 and mat2 shapes cannot be multiplied \(\d+x(\d+) and (\d+)x\d+\)"),
        "a matrix product needs the first matrix's columns ({0}) to match the second's rows "
        "({1}). For nn.Linear(in_features, out_features) the second is the weight: the layer "
        "expects {1} features and was given {0}. Make in_features match, or flatten what "
        "comes in (`x.flatten(1)` after a convolution)",
    ),
    (
        re.compile(r"Expected more than 1 value per channel when training"),
        "BatchNorm in training mode normalizes over the batch, and one sample has no "
        "spread: use a batch of two or more, or call `model.eval()` to run a single one",
    ),
    (
        re.compile(r"mat1 and mat2 must have the same dtype, but got Double and Float"),
        "the input is float64 (NumPy's default) and the layer float32: convert the input "
        "with `.float()`, or make it with `torch.tensor(a, dtype=torch.float32)`",
    ),
    (
        re.compile(r"mat1 and mat2 must have the same dtype, but got (Long|Int) and Float"),
        "the input holds integers and the layer floats: convert it with `.float()` (indices "
        "of words or classes go through nn.Embedding instead)",
    ),
    (
        re.compile(r"Target (-?\d+) is out of bounds"),
        "cross_entropy's (and nll_loss's) targets are class indices from 0 to C - 1, C being "
        "the scores per sample (the last layer's out_features): {0} is outside them. Labels "
        "that start at 1 need 1 taken off; a label that marks padding needs "
        "ignore_index={0}",
    ),
    (
        re.compile(r"Expected floating point type for target with class probabilities, got"),
        "cross_entropy takes class indices (integers, one per sample) or probabilities "
        "(floats, one row per sample): a one-hot target of integers is neither; pass "
        "`target.argmax(1)`, or `target.float()`",
    ),
    (
        re.compile(r"expected target dtype to be Long or Byte, but got Float"),
        "class indices must be integers: pass `target.long()`",
    ),
    (
        re.compile(r"Expected input batch_size \((\d+)\) to match target batch_size \((\d+)\)"),
        "the model gave {0} rows of scores for {1} targets: a reshape such as "
        "`x.view(-1, 320)` folded part of each sample into the batch (an image of another "
        "size than the layer was written for). Flatten per sample, `x.flatten(1)`, and make "
        "the next layer's in_features match",
    ),
    (
        re.compile(r"expected input\[[^\]]*\] to have (\d+) channels, but got (\d+) channels"),
        "the convolution expects {0} channels in dim 1 of (N, C, H, W) and got {1}: an image "
        "with its channels last needs `x.permute(0, 3, 1, 2)`, and a grayscale image into "
        "a layer made for colour needs in_channels=1 (or `x.repeat(1, 3, 1, 1)`)",
    ),
    (
        re.compile(r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d"),
        "conv2d takes images as (N, C, H, W), or one as (C, H, W): give a flat vector its "
        "image shape (`x.view(-1, 1, 28, 28)`), and one image its batch dimension "
        "(`x.unsqueeze(0)`)",
    ),
    (
        re.compile(r"optimizer got an empty parameter list"),
        "the optimizer was given no parameters: `model.parameters()` is a generator, "
        "empty once something has gone through it (a list() of it, another optimizer); "
        "call `model.parameters()` again, or keep `list(model.parameters())`",
    ),
    (
        re.compile(r"all elements of input should be between 0 and 1"),
        "BCELoss takes probabilities, and was given scores outside [0, 1] (logits): put a "
        "sigmoid before it, or, better, use nn.BCEWithLogitsLoss on the logits",
    ),
    (
        re.compile(r"Found dtype Long but expected Float"),
        "this loss compares floats: make the target float, `y.float()`",
    ),
    (
        re.compile(r"argument #1 'indices' to have one of the following scalar types: Long, Int"),
        "nn.Embedding looks rows up by index: its input must hold integers (token or class "
        "ids), and this one holds floats: pass `idx.long()`; features that are numbers go "
        "through nn.Linear instead",
    ),
    (
        re.compile(r"tensors used as indices must be long, int, byte or bool tensors"),
        "an index must hold integers (or booleans, as a mask), and this one holds floats: "
        "labels kept in a float tensor need `.long()` to pick with "
        "(`log_probs[torch.arange(n), y.long()]`)",
    ),
)
"""Shape and type errors a first model meets, whose words name no layer and no fix."""


def _error_line(traceback_text: str) -> str:
    """The traceback's last line: the exception and its message."""
    lines = traceback_text.rstrip().splitlines()
    return lines[-1] if lines else ""


def _shapes(traceback_text: str) -> str | None:
    """The hint for a shape or type error of a first model, with its numbers."""
    error = _error_line(traceback_text)
    for pattern, hint in _FIRST_MODEL:
        if (found := pattern.search(error)) is not None:
            return hint.format(*found.groups())
    return None


_NO_CUDA = (
    "Torch not compiled with CUDA enabled",  # a CPU build: .cuda(), device="cuda"
    "Found no NVIDIA driver on your system",  # a CUDA build on a machine without a GPU
    "but torch.cuda.is_available() is False",  # torch.load of a checkpoint saved on a GPU
)


def _no_cuda(traceback_text: str) -> str | None:
    """A snippet written for a GPU (Colab's, a course's) run where torch has none."""
    error = _error_line(traceback_text)
    if not any(text in error for text in _NO_CUDA):
        return None
    load = "torch.load" in error or "deserialize" in error
    return "this torch has no CUDA device, and the snippet asks for one: " + (
        "load the checkpoint onto the CPU, `torch.load(path, map_location='cpu')`"
        if load
        else "choose the device as tutorials do, `device = 'cuda' if "
        "torch.cuda.is_available() else 'cpu'`, and write `.to(device)` for `.cuda()`"
    )


_RULES = (
    (
        "does not require grad and does not have a grad_fn",
        "the tensor backward() started from has no graph: nothing it was computed from "
        "requires grad, or it was computed under torch.no_grad() (or after .detach()). Give "
        "the tensors to learn requires_grad=True, and compute the loss outside no_grad",
    ),
    (
        "a leaf Variable that requires grad is being used in an in-place operation",
        "a tensor with requires_grad=True was changed in place (w -= ..., w.zero_()), which "
        "autograd cannot record: update it inside `with torch.no_grad():`, as a training "
        "loop does, or write `w = w - ...` for a new tensor",
    ),
    (
        "modified by an inplace operation",
        "a tensor backward needs was changed in place after an op saved it (x += ..., "
        "x.add_(...), relu(inplace=True), x[i] = ...): write that line out of place "
        "(`x = x + ...`); `gradviz explain --partial` shows both ops",
    ),
    (
        "Only Tensors of floating point and complex dtype can require gradients",
        "gradients need floating-point numbers: write 1.0 rather than 1 "
        "(`torch.tensor([1.0, 2.0], requires_grad=True)`), or pass dtype=torch.float32",
    ),
    (
        "grad can be implicitly created only for scalar outputs",
        "backward() with no argument starts from a single number: reduce the tensor first "
        "(`y.sum().backward()`, or a loss's mean), or pass the gradient to start from: "
        "`y.backward(torch.ones_like(y))`",
    ),
    (
        "Trying to backward through the graph a second time",
        "the first backward() freed what this graph saved. In a loop, run the forward pass "
        "again each time, and .detach() what one step hands the next (an RNN's hidden "
        "state); retain_graph=True only to go back through the same graph on purpose",
    ),
)
"""Autograd's errors a lecture's audience meets first, and what to do about each."""


def _autograd_rule(traceback_text: str) -> str | None:
    """Autograd's own error, in the words of the rule it enforces, with the fix."""
    error = _error_line(traceback_text)
    if not error.startswith("RuntimeError"):
        return None
    return next((hint for text, hint in _RULES if text in error), None)


_AN_OPS_RESULT = (
    "an op's result, as `w = torch.randn(3, requires_grad=True) * 0.1` is: ask for the "
    "gradient last, `w = (torch.randn(3) * 0.1).requires_grad_()`"
)


def _grad_was_none(traceback_text: str) -> str | None:
    """``lr * w.grad`` on ``None``, or an optimizer given an op's result: the lecture's
    rule that only leaves get ``.grad``, met as a TypeError far from its cause."""
    lines = [line for line in traceback_text.rstrip().splitlines() if line.strip()]
    if not lines:
        return None
    error = lines[-1]
    if "can't optimize a non-leaf Tensor" in error:
        return f"the optimizer was given a tensor that is not a leaf ({_AN_OPS_RESULT})"
    if not error.startswith(("TypeError", "AttributeError")) or "NoneType" not in error:
        return None
    code = next(
        (line for line in reversed(lines[:-1]) if line.strip().strip("^~ ")),
        "",
    )
    if not code.startswith("    ") or ".grad" not in code or code.lstrip().startswith("File "):
        return None
    return (
        "a .grad this line reads was None: backward() has not reached that tensor yet, or it "
        f"is not a leaf ({_AN_OPS_RESULT}); `gradviz doctor --partial` names such a tensor"
    )


_ANOMALY = re.compile(r"Function '(\w+?)Backward\w*' returned nan values in its (\d+)")


def _anomaly(traceback_text: str) -> str | None:
    """``detect_anomaly`` stopped backward at the first function that returned nan.

    Its words name a backward function, not why. Nan in backward is nearly always
    0 × inf, and the infinite factor often comes from an op after the one named
    (sqrt of a zero distance sends inf to the ``pow`` that squared it), so the hint
    names the pattern and leaves the op to doctor, which has the values.
    """
    found = _ANOMALY.search(_error_line(traceback_text))
    if found is None:
        return None
    op = re.sub(r"(?<!^)(?=[A-Z])", "_", found.group(1)).lower()
    return (
        f"anomaly detection stopped at {op}'s backward, the first to return nan (its line is "
        "under 'Traceback of forward call' above). Nan in backward is nearly always 0 × inf: "
        "a derivative that is infinite at 0 (sqrt, log, a division, x ** p with p < 1) met a "
        "zero, in that op or one after it. `gradviz doctor --partial` names the op that made "
        "the first non-finite gradient, and the usual fix"
    )


def _missing_import(traceback_text: str) -> str | None:
    """``NameError: name 'torch' is not defined``: slides often leave imports out."""
    found = re.search(r"^NameError: name '(\w+)' is not defined", traceback_text, re.MULTILINE)
    if found is not None and found.group(1) in ("display", "get_ipython"):
        return (
            f"{found.group(1)}() is Jupyter's, not Python's: a notebook's cells run here as a "
            "script, where print() shows a value"
        )
    if found is None or found.group(1) not in _IMPORTS:
        return None
    name = found.group(1)
    return (
        f"the snippet uses {name} without importing it: add `{_IMPORTS[name]}` at its top "
        "(it runs as a script of its own, as with python)"
    )


def _missing_package(traceback_text: str) -> str | None:
    """``ModuleNotFoundError: No module named 'matplotlib'``: say which Python needs it.

    gradviz runs the snippet in its own interpreter (often a virtual
    environment), which may lack what the snippet's author had installed.
    """
    found = re.search(
        r"^ModuleNotFoundError: No module named '([\w.]+)'", traceback_text, re.MULTILINE
    )
    if found is None:
        return None
    package = found.group(1).split(".")[0]
    pip_name = _PIP_NAMES.get(package, package)
    return (
        f"{package} is not installed in the Python that runs gradviz; install it there: "
        f"{sys.executable} -m pip install {pip_name}"
    )
