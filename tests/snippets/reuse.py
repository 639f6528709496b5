import torch

x = torch.tensor(3.0, requires_grad=True)
y = x * x + x  # x used three times
y.backward()
