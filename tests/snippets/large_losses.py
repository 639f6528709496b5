# Composite losses on a batch of 64 over 50 classes: their inner tensors are too large
# to compute again from a summary, so they come from a second run of the call.
import torch
import torch.nn.functional as F

torch.manual_seed(0)
logits = torch.randn(64, 50, requires_grad=True)
soft = torch.rand(64, 50)
labels = torch.randint(0, 50, (64,))
loss = (
    F.cross_entropy(logits, labels, label_smoothing=0.1)
    + F.hinge_embedding_loss(logits, (soft - 0.5).sign())
    + F.poisson_nll_loss(logits, soft)
    + F.multilabel_soft_margin_loss(logits, (soft > 0.5).float())
    + F.normalize(logits, dim=1).pow(3).sum()
)
loss.backward()
print(round(loss.item(), 4))
