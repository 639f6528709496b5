"""Gradients accumulate: two backward calls add into the same .grad."""

import torch

w = torch.tensor([1.0, -2.0], requires_grad=True)

first = (w * torch.tensor([3.0, 4.0])).sum()
first.backward()
print("after one backward:", w.grad)

second = (w ** 2).sum()
second.backward()
print("after two backward calls:", w.grad)  # [3, 4] + 2 * w
