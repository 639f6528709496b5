"""log(0) is -inf, and its gradient 1/0 is inf: one bad value poisons everything downstream."""

import torch

p = torch.tensor([0.5, 0.0, 0.25], requires_grad=True)
log_p = torch.log(p)
loss = -(p * log_p).sum()  # entropy; 0 * -inf = nan
loss.backward()
print(loss, p.grad)
