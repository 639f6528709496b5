import torch

x = torch.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True)
values, indices = x.max(dim=1)
parts = x.split(1, dim=0)
out = values.sum() + parts[1].sum()
out.backward()
