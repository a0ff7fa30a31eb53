"""ITO-step backends: compiled and exported match eager; a disagreeing backend is refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ditto_live.engine import backends
from ditto_live.engine.backends import BackendRefused, EagerStepper, export_grad_graph, prepare_stepper


def make_objective(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 1, 3, padding=1))
    for p in net.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.3
    target = torch.randn(1, 1, 8, 16, generator=g)

    def objective(x):
        return ((net(x) - target) ** 2).mean(dim=(1, 2, 3))  # [B]

    return objective


def test_exported_graph_gives_the_autograd_gradient():
    objective = make_objective()
    x = torch.randn(2, 1, 8, 16, generator=torch.Generator().manual_seed(1))
    graph = export_grad_graph(objective, x)
    grad, losses = graph(x)
    xr = x.clone().requires_grad_(True)
    ref = objective(xr)
    ref.sum().backward()
    torch.testing.assert_close(losses, ref.detach())
    torch.testing.assert_close(grad, xr.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["exported", "compiled"])
def test_backend_matches_eager_over_steps(backend):
    objective = make_objective()
    x = torch.randn(2, 1, 8, 16, generator=torch.Generator().manual_seed(2))
    stepper = prepare_stepper(backend, objective, x, lr=1e-2)
    ref = EagerStepper(objective, x, lr=1e-2)
    for _ in range(5):
        stepper.step()
        ref.step()
    torch.testing.assert_close(stepper.x.detach(), ref.x.detach(), rtol=1e-4, atol=1e-5)


def test_a_backend_that_disagrees_is_refused(monkeypatch):
    objective = make_objective()
    x = torch.randn(1, 1, 8, 16)
    wrong = make_objective(seed=5)
    monkeypatch.setattr(backends, "make_stepper", lambda name, obj, x_T, lr: EagerStepper(wrong, x_T, lr))
    with pytest.raises(BackendRefused, match="disagrees with eager"):
        prepare_stepper("exported", objective, x, lr=1e-2)


def test_cuda_graph_refuses_a_cpu_tensor():
    with pytest.raises(BackendRefused, match="CUDA"):
        backends.CudaGraphStepper(make_objective(), torch.randn(1, 1, 8, 16), lr=1e-2)


def test_tensorrt_missing_is_a_clear_message():
    try:
        import torch_tensorrt  # noqa: F401
        pytest.skip("torch-tensorrt is installed")
    except ImportError:
        pass
    with pytest.raises(BackendRefused, match="pip install"):
        prepare_stepper("tensorrt", make_objective(), torch.randn(1, 1, 8, 16), lr=1e-2)
