# makemore "backprop ninja": retain_grad on many intermediates, compare with manual
import torch
import torch.nn.functional as F
torch.manual_seed(42)
n_embd, n_hidden, vocab, block, bs = 4, 16, 10, 3, 8
C = torch.randn((vocab, n_embd), requires_grad=True)
W1 = torch.randn((n_embd * block, n_hidden), requires_grad=True)
b1 = torch.randn(n_hidden, requires_grad=True)
W2 = torch.randn((n_hidden, vocab), requires_grad=True)
b2 = torch.randn(vocab, requires_grad=True)
Xb = torch.randint(0, vocab, (bs, block)); Yb = torch.randint(0, vocab, (bs,))
emb = C[Xb]
embcat = emb.view(emb.shape[0], -1)
hprebn = embcat @ W1 + b1
h = torch.tanh(hprebn)
logits = h @ W2 + b2
logit_maxes = logits.max(1, keepdim=True).values
norm_logits = logits - logit_maxes
counts = norm_logits.exp()
counts_sum = counts.sum(1, keepdims=True)
counts_sum_inv = counts_sum ** -1
probs = counts * counts_sum_inv
logprobs = probs.log()
loss = -logprobs[range(bs), Yb].mean()
for p in [C, W1, b1, W2, b2]:
    p.grad = None
for t in [logprobs, probs, counts, counts_sum, counts_sum_inv, norm_logits, logit_maxes, logits, h, hprebn, embcat, emb]:
    t.retain_grad()
loss.backward()
dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(bs), Yb] = -1.0 / bs
print('logprobs', torch.allclose(dlogprobs, logprobs.grad))
dlogits = F.softmax(logits, 1)
dlogits[range(bs), Yb] -= 1
dlogits /= bs
print('logits', torch.allclose(dlogits, logits.grad, atol=1e-6))
