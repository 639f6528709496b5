import torch

globals()["</script><img src=x onerror=alert(1)>"] = torch.tensor(2.0, requires_grad=True)
globals()["a & b \"quoted\" {braces} \\back"] = torch.tensor(3.0, requires_grad=True)
out = globals()["</script><img src=x onerror=alert(1)>"] * globals()["a & b \"quoted\" {braces} \\back"]
out.backward()
