import torch


def main():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (w * 2).sum()
    return y.detach().item()


main()
