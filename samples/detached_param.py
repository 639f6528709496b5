"""A parameter cut off by .detach(): it is used, but no gradient can reach it."""

import torch
from torch import nn

torch.manual_seed(0)

encoder = nn.Linear(3, 4)
head = nn.Linear(4, 1)

x = torch.randn(5, 3)
features = encoder(x).detach()  # meant for a frozen encoder, but encoder is still trained
loss = head(features).pow(2).mean()
loss.backward()
print("encoder.weight.grad is", encoder.weight.grad)
