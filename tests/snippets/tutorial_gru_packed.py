# packed sequences with GRU
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
torch.manual_seed(0)
gru = nn.GRU(5, 7, batch_first=True)
x = torch.randn(3, 4, 5)
lengths = torch.tensor([4, 2, 3])
packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
out, h = gru(packed)
padded, _ = pad_packed_sequence(out, batch_first=True)
loss = padded.pow(2).mean() + h.sum()
loss.backward()
print(loss.item(), gru.weight_ih_l0.grad.abs().sum().item())
