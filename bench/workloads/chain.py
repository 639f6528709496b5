"""A chain of N scalar multiplications (N from the command line, default 1000)."""

import sys

import torch

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
x = torch.tensor(1.0, requires_grad=True)
y = x
for _ in range(N):
    y = y * 1.0001
y.backward()
