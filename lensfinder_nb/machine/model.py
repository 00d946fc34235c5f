"""The network: a slim ResNet-18 (the ResNet-18 layout at a quarter of the width).

Stem: 7x7 convolution with stride 2 and a 3x3 max-pool (48 x 48 -> 12 x 12), then four stages
of two basic residual blocks with widths ``w, 2w, 4w, 8w`` (``w = 16``) and strides 1, 2, 2, 2,
global average pooling and one linear output: a *logit* (``sigmoid`` gives the score).
About 0.7 million parameters (2.8 MB).  Written here because torchvision cannot be
installed beside the CPU build of torch this project pins.

With ``point_residual`` the network also sees, as three more input channels, the centre view minus
itself turned by 180 degrees about the lens galaxy's light centroid (:func:`point_residual`).  An
elliptical galaxy is point-symmetric, so its light cancels and what is left is the asymmetric light
- a partial arc, a counter-image at another radius, a neighbour.  A faint arc on the steep profile of
a bright galaxy is a tiny change of the scaled pixels; a small network with a limited field of view
finds it hard to model the profile itself, the residual hands it the difference.  The residual is
taken on fluxes and then scaled like a view (``residual_space="flux"``): taken on the scaled pixels,
the asinh's compression leaves an arc holding a tenth of a bright galaxy's light a bump of about
0.03, a third of the sky noise's in the outskirts.
"""

from __future__ import annotations

import torch
from torch import nn

from .inputs import from_flux, to_flux

__all__ = ["SlimResNet", "RESIDUAL_SPACES", "count_parameters", "point_residual"]

#: where the residual is taken: on fluxes (the views' scaling undone, then the residual scaled like a
#: view, so an arc keeps its S/N on a bright galaxy) or on the scaled pixels (models trained before
#: 2026-12-05, where the scaling's compression leaves an arc on a bright galaxy a few per cent)
RESIDUAL_SPACES = ("flux", "scaled")

#: half-width (pixels) of the central box whose light centroid is the point of symmetry
_CORE = 4
#: the centroid is kept within this many pixels of the centre (a neighbour must not pull it away)
_MAX_SHIFT = 3.0


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

    def __init__(self, in_channels: int = 6, width: int = 16, blocks: tuple[int, ...] = (2, 2, 2, 2),
                 point_residual: bool = False, residual_space: str = "flux") -> None:
        super().__init__()
        if residual_space not in RESIDUAL_SPACES:
            raise ValueError(f"residual_space must be one of {RESIDUAL_SPACES}, not {residual_space!r}")
        self.point_residual = point_residual
        self.residual_space = residual_space
        c_stem = in_channels + (3 if point_residual else 0)
        self.stem = nn.Sequential(nn.Conv2d(c_stem, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
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
        if self.point_residual:
            centre = x[:, :3]
            if self.residual_space == "flux":   # undo the scaling, subtract, scale again
                res = from_flux(point_residual(to_flux(centre)))
            else:
                res = point_residual(centre)
            x = torch.cat([x, res], dim=1)
        x = self.stages(self.stem(x))
        return self.head(x.mean(dim=(2, 3))).squeeze(1)


def point_residual(c: torch.Tensor) -> torch.Tensor:
    """``c`` minus ``c`` turned by 180 degrees about the light centroid of its central box (n, b, h, w).

    The centroid is that of the summed bands above their mean (squared) in the central (2 * 4 + 1)^2
    pixels, kept within 3 pixels of the centre; the turned image is sampled bicubically (zeros outside),
    which leaves ~2 % of a galaxy's peak near its centre when the centroid falls between pixels.

    >>> y, x = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    >>> blob = torch.exp(-((y - 12.3) ** 2 + (x - 11.6) ** 2) / 8).expand(1, 3, 24, 24)
    >>> float(point_residual(blob).abs().max()) < 0.03 * float(blob.max())
    True
    """
    n, _, h, w = c.shape
    yc, xc = h // 2, w // 2
    core = c[:, :, yc - _CORE:yc + _CORE + 1, xc - _CORE:xc + _CORE + 1].sum(dim=1)
    wgt = torch.relu(core - core.mean(dim=(1, 2), keepdim=True)) ** 2   # squared: the peak, not the noise
    t = torch.arange(-_CORE, _CORE + 1, dtype=c.dtype)
    tot = wgt.sum(dim=(1, 2)).clamp_min(1e-12)
    dy = ((wgt.sum(dim=2) * t).sum(dim=1) / tot).clamp(-_MAX_SHIFT, _MAX_SHIFT)
    dx = ((wgt.sum(dim=1) * t).sum(dim=1) / tot).clamp(-_MAX_SHIFT, _MAX_SHIFT)
    cy, cx = yc + dy, xc + dx                                             # (n,) pixels
    yy = torch.arange(h, dtype=c.dtype)[None, :, None]
    xx = torch.arange(w, dtype=c.dtype)[None, None, :]
    sy = (2 * cy[:, None, None] - yy).expand(n, h, w)                     # the pixel turned onto (y, x)
    sx = (2 * cx[:, None, None] - xx).expand(n, h, w)
    grid = torch.stack([2 * sx / (w - 1) - 1, 2 * sy / (h - 1) - 1], dim=-1)
    turned = torch.nn.functional.grid_sample(c, grid, mode="bicubic", padding_mode="zeros", align_corners=True)
    return c - turned


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
