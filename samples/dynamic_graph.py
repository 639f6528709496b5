"""The lecture's second example: the graph is built on the fly, z.grad_fn is its last node."""

import torch

# Create tensors and perform operations
x = torch.tensor(2.0, requires_grad=True)
y = torch.tensor(3.0, requires_grad=True)

z = x * y

# Print the gradient function of z
print("Gradient function of z:")
print(z.grad_fn)
