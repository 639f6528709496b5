"""gradviz: see the autograd graph PyTorch builds for your code, with the numbers on it.

Importing this package imports nothing heavy: torch is loaded only when a
snippet is captured, so ``gradviz --help`` stays instant.
"""

__version__ = "0.1.0"
