"""A plain RNN with large recurrent weights: the gradient grows at every step back in time."""

import torch

torch.manual_seed(0)

hidden = 4
w_hh = (torch.randn(hidden, hidden) * 1.5).requires_grad_()
w_xh = torch.randn(hidden, 2).requires_grad_()

h = torch.zeros(hidden)
inputs = torch.randn(20, 2)
for x_t in inputs:
    h = w_hh @ h + w_xh @ x_t  # no squashing: nothing keeps h, or its gradient, small

loss = h.pow(2).sum()
loss.backward()
print(f"|grad w_hh| = {w_hh.grad.norm():.3e}")
