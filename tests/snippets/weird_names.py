import torch

globals()['a<b>&"c"'] = torch.tensor(1.0, requires_grad=True)
café = torch.tensor(2.0, requires_grad=True)
y = globals()['a<b>&"c"'] * café
globals()["[red]x[/red]"] = torch.tensor(3.0, requires_grad=True)
y = y * globals()["[red]x[/red]"]
