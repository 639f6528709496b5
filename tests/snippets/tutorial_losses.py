# Losses from metric learning and classification tutorials: composite in torch, so most
# of their nodes are made inside one call (label smoothing, margins, clamps, slices).
import torch
import torch.nn.functional as F

torch.manual_seed(0)
emb = torch.randn(6, 5, requires_grad=True)
anchor, positive, negative = emb[:2], emb[2:4], emb[4:]
target = torch.tensor([1, 0, 4, 2, 3, 0])
loss = (
    F.cross_entropy(emb, target, label_smoothing=0.1)
    + F.nll_loss(emb.log_softmax(1), target, ignore_index=0)
    + F.triplet_margin_loss(anchor, positive, negative, margin=0.5)
    + F.cosine_embedding_loss(anchor, positive, torch.tensor([1, -1]))
    + F.margin_ranking_loss(emb[0], emb[1], torch.ones(5))
    + torch.diff(emb, dim=1).pow(2).mean()
    + emb.max(1).values.mean()
    + emb[:, -2:].clamp(-0.5, 0.5).sum()
)
loss.backward()
print(round(loss.item(), 4))
