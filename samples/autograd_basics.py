"""The lecture's first example: autograd computes d(sum(a * b))/da = b."""

import torch

# Create a tensor with requires_grad=True to track computation
a = torch.tensor([[2.0, 3.0]], requires_grad=True)
b = torch.tensor([[1.0, 2.0]], requires_grad=True)

# Perform some operations
c = a * b
d = c.sum()

# Compute gradients
d.backward()

# Gradients are computed and stored in .grad attribute
print("Gradient of a:")
print(a.grad)
print("Gradient of b:")
print(b.grad)
