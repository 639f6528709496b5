import torch

torch.manual_seed(1)
w = torch.randn(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
xs = torch.randn(4, 3)
for step in range(4):
    opt.zero_grad()
    loss = ((xs @ w) ** 2).mean()
    loss.backward()
    opt.step()
