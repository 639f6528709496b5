# Functions from classification, metric-learning and signal tutorials that make several
# nodes inside one call: written in Python in torch (gumbel_softmax, multilabel soft
# margin, local response norm, stft's padding) or in C++ (hinge, Poisson NLL, label
# smoothing, soft targets, margins). Every tensor of the graph shows its value.
import torch
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.randn(4, 5, requires_grad=True)
t = torch.rand(4, 5)
labels = torch.tensor([0, 3, 1, 4])
terms = [
    (F.gumbel_softmax(x, tau=0.7) * t).sum(),
    F.multilabel_soft_margin_loss(x, (t > 0.5).float()),
    F.soft_margin_loss(x, t.sign()),
    F.hinge_embedding_loss(x, (t - 0.5).sign()),
    F.poisson_nll_loss(x, t),
    F.cross_entropy(x, labels, label_smoothing=0.1),
    F.cross_entropy(x, t.softmax(1)),
    F.multi_margin_loss(x, labels),
    F.triplet_margin_with_distance_loss(x[0:1], x[1:2], x[2:3]),
    F.local_response_norm(x.view(1, 4, 5, 1), 2).sum(),
    F.glu(x[:, :4]).sum(),
    torch.cdist(x, t).sum(),
    torch.stft(x.flatten(), 8, return_complex=True, window=torch.hann_window(8)).abs().sum(),
]
loss = torch.stack(terms).sum()
loss.backward()
print(round(loss.item(), 4))
