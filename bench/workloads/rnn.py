"""A tanh RNN unrolled over T steps (T from the command line, default 100).

Its two weights are used at every step: what makes its graph hard to lay out.
"""

import sys

import torch

T = int(sys.argv[1]) if len(sys.argv) > 1 else 100
torch.manual_seed(0)
W = torch.randn(8, 8, requires_grad=True)
U = torch.randn(8, 4, requires_grad=True)
h = torch.zeros(8)
for x in torch.randn(T, 4):
    h = torch.tanh(W @ h + U @ x)
loss = h.sum()
loss.backward()
