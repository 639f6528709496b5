import torch

x = torch.tensor(3.0, requires_grad=True)
y = x ** 3
(dy,) = torch.autograd.grad(y, x, create_graph=True)  # 3 x^2 = 27, and a graph of it
dy.backward()  # d(3 x^2)/dx = 6 x = 18
