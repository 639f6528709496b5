"""One training step of a small MLP: forward, loss, backward, optimizer step."""

import torch
from torch import nn

torch.manual_seed(0)

model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

x = torch.randn(5, 3)
y = torch.randn(5, 1)

optimizer.zero_grad()
prediction = model(x)
loss = nn.functional.mse_loss(prediction, y)
loss.backward()
optimizer.step()

print(f"loss = {loss.item():.4f}")
