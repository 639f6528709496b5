import sys

import torch

print("name", __name__)
print("argv", sys.argv[1:])
print("path0", sys.path[0])
print("file", __file__)
scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
x = torch.tensor(2.0, requires_grad=True)
y = x * scale
