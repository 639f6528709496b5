# A physics-informed network (PINN): u_x and u_xx by two autograd.grad(create_graph=True) passes
import torch
import torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 1))
x = torch.linspace(0, 1, 5).unsqueeze(1).requires_grad_(True)
u = net(x)
u_x = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)[0]
u_xx = torch.autograd.grad(u_x, x, torch.ones_like(u_x), create_graph=True)[0]
loss = ((u_xx + u) ** 2).mean() + (u_x.pow(3) / 2).sum()
loss.backward()
