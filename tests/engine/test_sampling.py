"""DDIM with classifier-free guidance (engine/sampling.py) against closed-form Gaussian denoisers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ditto_live.engine.conditioning import Cond, predict_v
from ditto_live.engine.sampling import ddim_sample, sample_noise
from ditto_live.engine.schedule import alpha_sigma, teacher_grid
from ditto_live.engine.unet import UNet, UNetConfig


class GaussianDenoiser(nn.Module):
    """The exact v-prediction for data x0 ~ N(mean, s^2) i.i.d.; the tag in column 0 picks the mean
    (null tag: mean 0), so guidance has something to act on.

    With V = a^2 s^2 + sigma^2: E[x0 | x_t] = m + a s^2 (x_t - a m) / V,
    E[eps | x_t] = sigma (x_t - a m) / V, and v = a E[eps] - sigma E[x0].
    """

    takes_w = False

    def __init__(self, s: float, means: tuple[float, ...] = (0.0,)):
        super().__init__()
        self.s = s
        self.register_buffer("means", torch.tensor(means))

    def forward(self, x, t, tags, w=None):
        a, sg = (c.reshape(-1, 1, 1, 1) for c in alpha_sigma(t))
        m = self.means[tags[:, 0]].reshape(-1, 1, 1, 1)
        var = a**2 * self.s**2 + sg**2
        x0 = m + a * self.s**2 * (x - a * m) / var
        eps = sg * (x - a * m) / var
        return a * eps - sg * x0


def ddim_gaussian_variance(s: float, grid: list[int]) -> float:
    """Variance after deterministic DDIM on N(0, s^2) data: each step scales x by
    (a_s a_t s^2 + sigma_s sigma_t) / V_t, slightly under s^2 on a coarse grid (Cauchy-Schwarz)."""
    a, sg = alpha_sigma(torch.tensor(grid, dtype=torch.float64))
    a, sg = a.double(), sg.double()
    var = a[0] ** 2 * s**2 + sg[0] ** 2
    for i in range(len(grid) - 1):
        var = var * ((a[i + 1] * a[i] * s**2 + sg[i + 1] * sg[i]) / (a[i] ** 2 * s**2 + sg[i] ** 2)) ** 2
    return float(var)


def _noise(n: int, seed: int = 0) -> torch.Tensor:
    return sample_noise((n, 1, 16, 32), torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("s", [0.3, 0.5])
def test_ddim_on_gaussian_data_gives_the_analytic_variance(s):
    x = ddim_sample(GaussianDenoiser(s), _noise(64), teacher_grid(20), Cond.null(64))
    n = x.numel()  # 32768 samples: the variance estimate has a relative standard error of ~0.8%
    expected = ddim_gaussian_variance(s, teacher_grid(20))
    assert abs(x.var().item() / expected - 1) < 0.04
    assert abs(x.mean().item()) < 4 * s / n**0.5
    assert 0.75 * s**2 < expected < s**2  # 20 DDIM steps under-disperse (by 15-21% here)


def test_ddim_variance_converges_to_the_data_variance_on_a_fine_grid():
    s = 0.5
    x = ddim_sample(GaussianDenoiser(s), _noise(64, seed=1), teacher_grid(250), Cond.null(64))
    assert abs(x.var().item() / s**2 - 1) < 0.04


def test_cfg_with_w_one_equals_the_conditional_and_w_zero_the_unconditional():
    model = GaussianDenoiser(0.4, means=(0.0, 0.5, -0.5))
    x, t = _noise(3), torch.full((3,), 600.0)
    tags = torch.tensor([[1, 0, 0, 0], [2, 0, 0, 0], [1, 0, 0, 0]])
    v_cond = model(x, t, tags)
    v_uncond = model(x, t, torch.zeros_like(tags))
    torch.testing.assert_close(predict_v(model, x, t, Cond(tags, torch.ones(3))), v_cond)
    torch.testing.assert_close(predict_v(model, x, t, Cond(tags, 0.0)), v_uncond)
    torch.testing.assert_close(predict_v(model, x, t, Cond(tags, 3.0)), 3 * v_cond - 2 * v_uncond)
    grid = teacher_grid(20)
    out_w1 = ddim_sample(model, x, grid, Cond(tags, torch.ones(3)))  # CFG path with w = 1
    out_c = ddim_sample(model, x, grid, Cond(tags, 1.0))  # the conditional call alone
    torch.testing.assert_close(out_w1, out_c)
    assert abs(out_c[1].mean().item() + 0.5) < 0.1  # samples sit at the conditioned mean


def test_guidance_pushes_samples_past_the_conditional_mean():
    model = GaussianDenoiser(0.2, means=(0.0, 0.5))
    tags = torch.tensor([[1, 0, 0, 0]] * 8)
    x = _noise(8)
    m1 = ddim_sample(model, x, teacher_grid(20), Cond(tags, 1.0)).mean().item()
    m3 = ddim_sample(model, x, teacher_grid(20), Cond(tags, 3.0)).mean().item()
    assert 0.45 < m1 < 0.55 and m3 > m1 + 0.2


def test_same_seed_same_sample_with_a_unet_and_the_callback_sees_every_step():
    torch.manual_seed(0)
    cfg = UNetConfig(channels=(8, 16), blocks=(1, 1), attention=(False, False), mid_attention=False,
                     cross_attention=False, emb_dim=16, groups=4)
    model = UNet(cfg, (2, 2, 2, 2)).eval()
    cond = Cond(torch.tensor([[1, 1, 0, 1]]), 2.0)
    steps = []
    with torch.no_grad():
        a = ddim_sample(model, _noise(1, seed=7), teacher_grid(5), cond,
                        callback=lambda i, n, x: steps.append((i, n, x.shape)))
        b = ddim_sample(model, _noise(1, seed=7), teacher_grid(5), cond)
        c = ddim_sample(model, _noise(1, seed=8), teacher_grid(5), cond)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert steps == [(i, 5, (1, 1, 16, 32)) for i in range(1, 6)]
    # gradients reach x_T through the chain, with and without checkpointing, and agree
    grads = []
    for ckpt in (False, True):
        x_T = _noise(1, seed=7).requires_grad_(True)
        ddim_sample(model, x_T, teacher_grid(3), cond, grad_checkpoint=ckpt).square().mean().backward()
        grads.append(x_T.grad)
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1])


def test_sample_noise_is_a_function_of_the_seed():
    a = sample_noise((2, 3), torch.Generator().manual_seed(1))
    b = sample_noise((2, 3), torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == torch.float32 and a.device.type == "cpu"
