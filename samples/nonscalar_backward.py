"""backward() on a non-scalar needs a gradient= argument: the vector in the vector-Jacobian product."""

import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x ** 2

y.backward(gradient=torch.tensor([1.0, 0.1, 0.01]))
print(x.grad)  # 2 * x * v
