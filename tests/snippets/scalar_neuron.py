import torch
x = torch.tensor(1.0, requires_grad=True)
w = torch.tensor(-2.0, requires_grad=True)
s = torch.sigmoid(w * x)
loss = (s - 1) ** 2
loss.backward()
