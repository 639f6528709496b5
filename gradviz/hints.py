"""One line of help after a snippet's own traceback, for the mistakes copied code makes.

The snippet runs as ``python snippet.py`` would, so its error stays Python's;
gradviz only adds what a newcomer needs next: the import a slide left out, or
where to install a package the snippet imports.
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
    return _missing_import(traceback_text) or _missing_package(traceback_text)


def _missing_import(traceback_text: str) -> str | None:
    """``NameError: name 'torch' is not defined``: slides often leave imports out."""
    found = re.search(r"^NameError: name '(\w+)' is not defined", traceback_text, re.MULTILINE)
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
