import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
h = x * 2
out = h.sum()
out.backward(retain_graph=True)
out.backward()  # the same graph again: everything doubles
