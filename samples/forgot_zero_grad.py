"""A training loop that never resets .grad: each step adds to the sum of every earlier one.

The lecture's point that gradients accumulate, where it hurts. `gradviz doctor`
reports it; uncomment the reset to fix it.
"""

import torch

w = torch.tensor([1.0, -1.0], requires_grad=True)
x = torch.tensor([2.0, 3.0])
target = torch.tensor(4.0)

for step in range(3):
    loss = ((w * x).sum() - target) ** 2
    loss.backward()
    print(f"step {step}: loss {loss.item():.3f}, w.grad {w.grad.tolist()}")
    with torch.no_grad():
        w -= 0.01 * w.grad
    # w.grad.zero_()
