"""A loop whose length depends on the data: each run builds a graph of a different depth."""

import torch

x = torch.tensor(1.5, requires_grad=True)

y = x
steps = 0
while y.norm() < 20:  # how many times depends on x's value
    y = y * 2
    steps += 1

y.backward()
print(f"{steps} doublings; dy/dx = {x.grad.item()}")
