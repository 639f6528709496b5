"""An MLP of 100 M parameters (four 5,000×5,000 layers): one forward and backward pass."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(5000, 5000),
    nn.ReLU(),
    nn.Linear(5000, 5000),
    nn.ReLU(),
    nn.Linear(5000, 5000),
    nn.ReLU(),
    nn.Linear(5000, 5000),
)
x = torch.randn(16, 5000)
loss = model(x).pow(2).mean()
loss.backward()
