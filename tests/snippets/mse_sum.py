import torch
p = torch.tensor([1.0, 2.0], requires_grad=True)
loss = torch.nn.functional.mse_loss(p, torch.zeros(2), reduction="sum")
loss.backward()
