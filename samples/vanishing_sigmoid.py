"""A deep stack of sigmoids: the gradient shrinks at every layer (each sigmoid passes at most 1/4)."""

import torch
from torch import nn

torch.manual_seed(0)

layers = []
for _ in range(12):
    layers += [nn.Linear(8, 8), nn.Sigmoid()]
net = nn.Sequential(*layers, nn.Linear(8, 1))

x = torch.randn(16, 8)
y = torch.randn(16, 1)
loss = nn.functional.mse_loss(net(x), y)
loss.backward()

print(f"first layer grad norm {net[0].weight.grad.norm():.2e}, last {net[-1].weight.grad.norm():.2e}")
