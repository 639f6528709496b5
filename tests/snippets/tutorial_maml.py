# MAML's inner loop (learn2learn and the original tutorials): a step on the support set
# taken with create_graph=True, so the query loss differentiates through it, for a
# regression (mse_loss) and a classification (cross_entropy) task.
import torch
import torch.nn.functional as F

torch.manual_seed(0)
w = torch.randn(3, 4, requires_grad=True)
b = torch.zeros(3, requires_grad=True)
x_support, x_query = torch.randn(6, 4), torch.randn(6, 4)
y_support, y_query = torch.randint(0, 3, (6,)), torch.randint(0, 3, (6,))
r_support, r_query = torch.randn(6, 3), torch.randn(6, 3)

inner = F.cross_entropy(x_support @ w.T + b, y_support) + F.mse_loss(
    torch.tanh(x_support @ w.T), r_support
)
gw, gb = torch.autograd.grad(inner, (w, b), create_graph=True)
fast_w, fast_b = w - 0.4 * gw, b - 0.4 * gb
outer = F.cross_entropy(x_query @ fast_w.T + fast_b, y_query) + F.mse_loss(
    torch.tanh(x_query @ fast_w.T), r_query
)
outer.backward()
print(round(outer.item(), 4), w.grad.norm().item() > 0)
