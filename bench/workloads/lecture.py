"""The lecture's first example: two leaves, a product, a sum."""

import torch

a = torch.tensor([[2.0, 3.0]], requires_grad=True)
b = torch.tensor([[1.0, 2.0]], requires_grad=True)
c = a * b
d = c.sum()
d.backward()
