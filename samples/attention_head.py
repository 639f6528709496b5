"""One head of self-attention, as in the GPT-from-scratch lectures.

The key projection has a bias, and softmax over the keys cancels it: its
gradient is zero up to rounding. `gradviz doctor` tells that apart from a
vanishing gradient.
"""

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
B, T, C = 4, 8, 32


class Head(nn.Module):
    def __init__(self, head_size: int) -> None:
        super().__init__()
        self.key = nn.Linear(C, head_size)
        self.query = nn.Linear(C, head_size)
        self.value = nn.Linear(C, head_size)
        self.register_buffer("tril", torch.tril(torch.ones(T, T)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.key(x)
        q = self.query(x)
        wei = q @ k.transpose(-2, -1) * C**-0.5
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        return wei @ self.value(x)


head = Head(16)
x = torch.randn(B, T, C)
loss = head(x).pow(2).mean()
loss.backward()
