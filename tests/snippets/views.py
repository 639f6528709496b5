import torch

x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
y = x * 1
y[0] = 10.0  # in place on a non-leaf: y's grad_fn becomes CopySlices
v = y.view(2, 2).t()
loss = (v * v).sum()
loss.backward()
