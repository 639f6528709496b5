"""A 6-layer transformer encoder, d_model 64, 4 heads, on 8 sequences of 32 tokens."""

import torch
from torch import nn

torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True)
enc = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False)
x = torch.randn(8, 32, 64)
loss = enc(x).pow(2).mean()
loss.backward()
