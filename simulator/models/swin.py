"""Swin-Transformer building blocks (Liu et al., ICCV 2021) for the JSCC codec.

Written here rather than taken from timm: timm depends on torchvision, whose PyPI wheels
do not import beside the CPU build of torch 2.13 used on these machines.

All blocks work on channels-last feature maps ``[B, H, W, C]`` of any size: windowed
attention zero-pads the map at the bottom/right to a multiple of the window (padded
tokens take part in attention, as in the reference implementation's detection variant)
and crops back; the shifted-window step is skipped when the map fits in one window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ATTENTION_PATHS", "set_attention_path", "SwinBlock", "SwinStage", "PatchEmbed", "PatchMerging", "PatchReverseMerging", "PatchUnembed"]


def _relative_position_index(window: int) -> torch.Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]  # [w², w²]


def _window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """``[B, H, W, C]`` → ``[B·nW, window², C]`` (H, W multiples of ``window``)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).transpose(2, 3)
    return x.reshape(-1, window * window, c)


def _window_reverse(x: torch.Tensor, window: int, b: int, h: int, w: int) -> torch.Tensor:
    c = x.shape[-1]
    x = x.view(b, h // window, w // window, window, window, c).transpose(2, 3)
    return x.reshape(b, h, w, c)


def _shift_mask(h: int, w: int, window: int, shift: int, device: torch.device) -> torch.Tensor:
    """Additive mask ``[nW, w², w²]``: −inf between tokens that were not neighbours before the roll."""
    label = torch.zeros(1, h, w, 1, device=device)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, hs in enumerate(cuts):
        for j, ws in enumerate(cuts):
            label[:, hs, ws, :] = 3 * i + j
    lw = _window_partition(label, window).squeeze(-1)  # [nW, w²]
    mask = lw[:, None, :] != lw[:, :, None]
    return torch.zeros(mask.shape, device=device).masked_fill_(mask, float("-inf"))


#: Attention kernel of every :class:`WindowAttention`: ``"explicit"`` (softmax(q·kᵀ·scale + bias
#: + mask)·v written out, the mask broadcast over the batch) or ``"sdpa"``
#: (``F.scaled_dot_product_attention`` with a float mask).  Both compute the same function;
#: on CPU the explicit path trains faster (``benchmarks/bench_train.py`` measures it), because
#: SDPA with a float mask and gradients falls back to a slow reference kernel.
ATTENTION_PATHS = ("explicit", "sdpa")
_attention_path = "explicit"


def set_attention_path(path: str) -> None:
    """Choose the attention kernel for all Swin blocks (process-wide): one of :data:`ATTENTION_PATHS`."""
    global _attention_path
    if path not in ATTENTION_PATHS:
        raise ValueError(f"unknown attention path {path!r}; accepted: {', '.join(ATTENTION_PATHS)}")
    _attention_path = path


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ``window×window`` windows with a learned
    relative-position bias.  Input/output ``[B·nW, window², C]``."""

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.window = heads, window
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", _relative_position_index(window), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """:param mask: additive ``[nW, n, n]`` shift mask (0 / −inf), windows ordered as
        :func:`_window_partition` makes them, ``B·nW`` a multiple of ``nW``."""
        bw, n, c = x.shape
        q, k, v = self.qkv(x).view(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.bias_table[self.bias_index].permute(2, 0, 1)  # [heads, n, n]
        if _attention_path == "sdpa":
            if mask is not None:  # [nW, n, n] → [B·nW, heads, n, n]
                n_win = mask.shape[0]
                bias = (bias.unsqueeze(0) + mask.unsqueeze(1)).repeat(bw // n_win, 1, 1, 1)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        else:
            scores = (q * self.scale) @ k.transpose(-2, -1) + bias.to(q.dtype)  # [B·nW, heads, n, n]
            if mask is not None:  # broadcast the [nW, n, n] mask over the batch, no copy
                n_win = mask.shape[0]
                scores = scores.view(bw // n_win, n_win, self.heads, n, n) + mask.to(q.dtype)[None, :, None]
                scores = scores.view(bw, self.heads, n, n)
            out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """(Shifted-)window attention + MLP, pre-norm residual.  ``[B, H, W, C]`` → same."""

    def __init__(self, dim: int, heads: int, window: int, shifted: bool, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.window, self.shifted = window, shifted
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        win = self.window
        y = self.norm1(x)
        ph, pw = (-h) % win, (-w) % win
        if ph or pw:
            y = F.pad(y, (0, 0, 0, pw, 0, ph))
        hp, wp = h + ph, w + pw
        shift = win // 2 if self.shifted and (hp > win or wp > win) else 0
        mask = None
        if shift:
            y = torch.roll(y, (-shift, -shift), dims=(1, 2))
            mask = _shift_mask(hp, wp, win, shift, y.device)
        y = _window_reverse(self.attn(_window_partition(y, win), mask), win, b, hp, wp)
        if shift:
            y = torch.roll(y, (shift, shift), dims=(1, 2))
        x = x + y[:, :h, :w, :]
        return x + self.mlp(self.norm2(x))


class SwinStage(nn.Sequential):
    """``depth`` Swin blocks alternating regular and shifted windows."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float = 4.0) -> None:
        super().__init__(*(SwinBlock(dim, heads, window, shifted=i % 2 == 1, mlp_ratio=mlp_ratio) for i in range(depth)))


class PatchEmbed(nn.Module):
    """Image ``[B, 3, H, W]`` → tokens ``[B, H/p, W/p, C]`` (non-overlapping p×p patches)."""

    def __init__(self, dim: int, patch: int = 2, in_channels: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PatchUnembed(nn.Module):
    """Tokens ``[B, H, W, C]`` → image ``[B, out, p·H, p·W]`` (pixel shuffle), no activation."""

    def __init__(self, dim: int, patch: int = 2, out_channels: int = 3) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, out_channels * patch * patch)
        self.shuffle = nn.PixelShuffle(patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.proj(x).permute(0, 3, 1, 2))


class PatchMerging(nn.Module):
    """2×2 down-sampling: ``[B, H, W, C]`` → ``[B, H/2, W/2, C_out]`` (H, W even)."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduce = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        x = x.view(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).reshape(b, h // 2, w // 2, 4 * c)
        return self.reduce(self.norm(x))


class PatchReverseMerging(nn.Module):
    """2×2 up-sampling: ``[B, H, W, C]`` → ``[B, 2H, 2W, C_out]`` (linear + pixel shuffle)."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.expand = nn.Linear(dim, 4 * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shuffle(self.expand(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.norm(y)
