"""The network: a slim ResNet-18 (the ResNet-18 layout at a quarter of the width).

Stem: 7x7 convolution with stride 2 and a 3x3 max-pool (48 x 48 -> 12 x 12), then four stages
of two basic residual blocks with widths ``w, 2w, 4w, 8w`` (``w = 16``) and strides 1, 2, 2, 2,
global average pooling and one linear output: a *logit* (``sigmoid`` gives the score).
About 0.7 million parameters (2.8 MB).  Written here because torchvision cannot be
installed beside the CPU build of torch this project pins.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SlimResNet", "count_parameters"]


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.skip(x))


class SlimResNet(nn.Module):
    """ResNet-18 layout, ``width`` channels in the first stage; input (n, in_channels, h, w) -> logits (n,).

    >>> net = SlimResNet(in_channels=6)
    >>> net(torch.zeros(2, 6, 48, 48)).shape
    torch.Size([2])
    """

    def __init__(self, in_channels: int = 6, width: int = 16, blocks: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, c = [], width
        for i, n in enumerate(blocks):
            c_out = width * 2 ** i
            for j in range(n):
                layers.append(_Block(c, c_out, 2 if (i > 0 and j == 0) else 1))
                c = c_out
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.head(x.mean(dim=(2, 3))).squeeze(1)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
