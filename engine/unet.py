"""The denoiser: a Stable-Diffusion-style 2D UNet over mel spectrograms, predicting v.

    x [B, 1, F, N], t [B] (float time index), tags [B, 4] long, w [B] | None  ->  v [B, 1, F, N]

Time enters as a sinusoidal embedding through an MLP; each tag field has a learned embedding
(index 0 = the null tag) summed into the time embedding and, in the levels with attention, used
as cross-attention context tokens. Distilled students (``w_embed=True``) also get the guidance
weight w through a projection whose last layer is zero-initialised, so a student built from a
teacher's weights starts out computing exactly the teacher's function.

Two presets (DESIGN.md §2): ``paper`` (~41M parameters, DITTO's channel plan, 160 mels, for a GPU)
and ``tiny`` (a 2x2 pixel-unshuffle stem and parameters spent at low resolution, for two CPU cores).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class UNetConfig:
    channels: tuple[int, ...] = (64, 64, 128, 128, 256)  # width of each resolution level
    blocks: tuple[int, ...] = (2, 2, 2, 2, 2)  # residual blocks per level on the way down (one more up)
    attention: tuple[bool, ...] = (False, False, False, True, True)  # self+cross attention at this level
    mid_attention: bool = True  # attention in the bottleneck between its two residual blocks
    cross_attention: bool = True  # attention blocks also attend to the tag tokens
    head_dim: int = 64  # channels per attention head
    ff_mult: int = 4  # GEGLU feed-forward width multiple after each attention (0: no feed-forward)
    emb_dim: int = 256  # width of the time / tag / w embedding
    stem: int = 1  # pixel-unshuffle factor of the stem (2: [1, F, N] -> [4, F/2, N/2] before the first conv)
    groups: int = 32  # GroupNorm groups (capped at the channel count)
    dropout: float = 0.0  # dropout inside residual blocks
    w_embed: bool = False  # take the guidance weight w as an input (distilled students)
    w_scale: float = 1000.0  # w is multiplied by this before its sinusoidal embedding (as in LCM)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "attention", tuple(bool(a) for a in self.attention))
        if not (len(self.channels) == len(self.blocks) == len(self.attention)):
            raise ValueError("UNetConfig: channels, blocks and attention need one entry per level")

    @property
    def downsample_factor(self) -> int:
        """Input height and width must be multiples of this."""
        return self.stem * 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> UNetConfig:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return UNetConfig(**fields)


UNET_PRESETS: dict[str, UNetConfig] = {
    # ~40.6M parameters, DITTO's channel plan; attention (self, tag cross-attention, feed-forward)
    # in the two innermost levels and the middle. For a GPU, 160 x 512 mels.
    "paper": UNetConfig(channels=(64, 64, 128, 128, 256), blocks=(2, 2, 3, 3, 3),
                        attention=(False, False, False, True, True), mid_attention=True, cross_attention=True,
                        emb_dim=512, stem=1),
    # ~3.6M parameters for two CPU cores at 80 x 512: a 2x2 pixel-unshuffle stem, narrow levels where
    # the grid is large, width and the only attention (self, 160 tokens) at 5 x 32 (docs/engine.md).
    "tiny": UNetConfig(channels=(16, 32, 64, 128), blocks=(1, 1, 1, 2), attention=(False, False, False, False),
                       mid_attention=True, cross_attention=False, head_dim=32, ff_mult=2, emb_dim=128, stem=2,
                       groups=8),
}


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of a (float) scalar per sample. t: [B] -> [B, dim]"""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the embedding as a scale and shift on the second norm (FiLM)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = group_norm(c_in, groups)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = group_norm(c_out, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class FeedForward(nn.Module):
    """Pre-norm GEGLU feed-forward, as in Stable Diffusion's transformer blocks. [B, L, C] -> [B, L, C]"""

    def __init__(self, channels: int, mult: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.proj_in = nn.Linear(channels, 2 * mult * channels)
        self.proj_out = nn.Linear(mult * channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        h, gate = self.proj_in(self.norm(x)).chunk(2, dim=-1)
        return self.proj_out(h * F.gelu(gate))


class AttentionBlock(nn.Module):
    """Self-attention over all F*N positions, then cross-attention to context tokens and a
    feed-forward (each optional): Stable Diffusion's transformer block on one layer."""

    def __init__(self, channels: int, head_dim: int, groups: int, context_dim: int | None, ff_mult: int):
        super().__init__()
        self.heads = max(1, channels // head_dim)
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.cross = context_dim is not None
        if context_dim is not None:
            self.norm_x = nn.LayerNorm(channels)
            self.q_x = nn.Linear(channels, channels)
            self.kv_x = nn.Linear(context_dim, 2 * channels)
            self.proj_x = nn.Linear(channels, channels)
        self.ff = FeedForward(channels, ff_mult) if ff_mult else None

    def _split(self, x: Tensor) -> Tensor:
        b, n, c = x.shape  # [B, L, C] -> [B, heads, L, C / heads]
        return x.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

    def _merge(self, x: Tensor) -> Tensor:
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)

    def forward(self, x: Tensor, context: Tensor | None) -> Tensor:
        b, c, f, n = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)  # [B, F*N, C]
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        h = self._merge(F.scaled_dot_product_attention(self._split(q), self._split(k), self._split(v)))
        tokens = x.flatten(2).transpose(1, 2) + self.proj(h)  # [B, F*N, C]
        if self.cross and context is not None:  # context: [B, T, context_dim]
            q = self.q_x(self.norm_x(tokens))
            k, v = self.kv_x(context).chunk(2, dim=-1)
            h = self._merge(F.scaled_dot_product_attention(self._split(q), self._split(k), self._split(v)))
            tokens = tokens + self.proj_x(h)
        if self.ff is not None:
            tokens = tokens + self.ff(tokens)
        return tokens.transpose(1, 2).reshape(b, c, f, n)


class Level(nn.Module):
    """Residual blocks at one resolution, each followed by attention when the level has it."""

    def __init__(self, c_ins: list[int], c_out: int, cfg: UNetConfig, attention: bool, context_dim: int | None):
        super().__init__()
        self.res = nn.ModuleList([ResBlock(c, c_out, cfg.emb_dim, cfg.groups, cfg.dropout) for c in c_ins])
        self.attn = nn.ModuleList([AttentionBlock(c_out, cfg.head_dim, cfg.groups, context_dim, cfg.ff_mult)
                                   for _ in c_ins]) if attention else None


class UNet(nn.Module):
    """v-prediction UNet. See the module docstring for the interface."""

    def __init__(self, cfg: UNetConfig, vocab_sizes: tuple[int, ...]):
        super().__init__()
        self.cfg = cfg
        self.vocab_sizes = tuple(int(v) for v in vocab_sizes)
        self.takes_w = cfg.w_embed
        ch, e = cfg.channels, cfg.emb_dim
        context_dim = e if cfg.cross_attention else None

        self.time_mlp = nn.Sequential(nn.Linear(ch[0], e), nn.SiLU(), nn.Linear(e, e))
        self.tag_emb = nn.ModuleList([nn.Embedding(v, e) for v in self.vocab_sizes])
        if cfg.w_embed:
            w_out = nn.Linear(e, e)
            nn.init.zeros_(w_out.weight)
            nn.init.zeros_(w_out.bias)
            self.w_mlp = nn.Sequential(nn.Linear(ch[0], e), nn.SiLU(), w_out)

        self.conv_in = nn.Conv2d(cfg.stem**2, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_ch = [ch[0]]
        c = ch[0]
        for i, c_out in enumerate(ch):
            c_ins = [c] + [c_out] * (cfg.blocks[i] - 1)
            self.down.append(Level(c_ins, c_out, cfg, cfg.attention[i], context_dim))
            c = c_out
            skip_ch += [c_out] * cfg.blocks[i]
            if i < len(ch) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skip_ch.append(c)

        self.mid1 = ResBlock(c, c, e, cfg.groups, cfg.dropout)
        self.mid_attn = (AttentionBlock(c, cfg.head_dim, cfg.groups, context_dim, cfg.ff_mult)
                         if cfg.mid_attention else None)
        self.mid2 = ResBlock(c, c, e, cfg.groups, cfg.dropout)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(ch))):
            c_ins = []
            for _ in range(cfg.blocks[i] + 1):
                c_ins.append(c + skip_ch.pop())
                c = ch[i]
            self.up.append(Level(c_ins, ch[i], cfg, cfg.attention[i], context_dim))
            if i > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))

        self.norm_out = group_norm(c, cfg.groups)
        self.conv_out = nn.Conv2d(c, cfg.stem**2, 3, padding=1)

    @property
    def downsample_factor(self) -> int:
        return self.cfg.downsample_factor

    def embed(self, t: Tensor, tags: Tensor, w: Tensor | None) -> tuple[Tensor, Tensor]:
        """Global embedding [B, E] (time + tags + w) and tag context tokens [B, n_fields, E]."""
        if tags.shape[-1] != len(self.tag_emb):
            raise ValueError(f"tags need {len(self.tag_emb)} columns, got shape {tuple(tags.shape)}")
        context = torch.stack([emb(tags[:, i]) for i, emb in enumerate(self.tag_emb)], dim=1)
        emb = self.time_mlp(timestep_embedding(t, self.cfg.channels[0])) + context.sum(dim=1)
        if self.takes_w:
            if w is None:
                raise ValueError("this model takes the guidance weight w; pass w [B]")
            emb = emb + self.w_mlp(timestep_embedding(w * self.cfg.w_scale, self.cfg.channels[0]))
        return emb, context

    def _level(self, level: Level, h: Tensor, emb: Tensor, context: Tensor, skips: list[Tensor] | None,
               out: list[Tensor] | None) -> Tensor:
        for j, res in enumerate(level.res):
            if skips is not None:
                h = torch.cat([h, skips.pop()], dim=1)
            h = res(h, emb)
            if level.attn is not None:
                h = level.attn[j](h, context)
            if out is not None:
                out.append(h)
        return h

    def forward(self, x: Tensor, t: Tensor, tags: Tensor, w: Tensor | None = None) -> Tensor:
        """x [B, 1, F, N], t [B], tags [B, n_fields] long, w [B] | None -> v [B, 1, F, N]"""
        f = self.downsample_factor
        if x.shape[-1] % f or x.shape[-2] % f:
            raise ValueError(f"UNet input {tuple(x.shape[-2:])}: mels and frames must be multiples of {f}")
        emb, context = self.embed(t, tags, w)
        h = F.pixel_unshuffle(x, self.cfg.stem) if self.cfg.stem > 1 else x
        h = self.conv_in(h)  # [B, C0, F/stem, N/stem]
        skips = [h]
        for i, level in enumerate(self.down):
            h = self._level(cast(Level, level), h, emb, context, None, skips)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                skips.append(h)
        h = self.mid1(h, emb)
        if self.mid_attn is not None:
            h = self.mid_attn(h, context)
        h = self.mid2(h, emb)
        for i, level in enumerate(self.up):
            h = self._level(cast(Level, level), h, emb, context, skips, None)
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.conv_out(F.silu(self.norm_out(h)))
        return F.pixel_shuffle(h, self.cfg.stem) if self.cfg.stem > 1 else h


def count_parameters(model: nn.Module) -> int:
    """Parameters of any network (UNet, vocoder, text encoder): the one count training and the bench report."""
    return sum(p.numel() for p in model.parameters())
