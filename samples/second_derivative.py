"""Second derivatives: with create_graph=True, backward records a graph of the gradient.

dy/dx of y = x³ is 3x², and its own derivative 6x: at x = 2, 12 and 12. The
picture is the graph of dy/dx, which torch's backward built (pow, mul); its
numbers come from running those ops again on their inputs.
"""

import torch

x = torch.tensor(2.0, requires_grad=True)
y = x**3

# create_graph=True: the backward pass is itself recorded, as a graph of its own
(dy_dx,) = torch.autograd.grad(y, x, create_graph=True)
print("dy/dx:", dy_dx.item())  # 3 * 2**2 = 12

# backward through that graph: the derivative of the derivative
dy_dx.backward()
print("d2y/dx2:", x.grad.item())  # 6 * 2 = 12
