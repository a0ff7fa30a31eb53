"""Issue 27: candidates for a cheaper ITO step, and for one that two threads speed up more. The default model's
student, forward + backward for x (one ITO step's network pass, 5.94 s of mel), at one thread and at two, in
the main thread alone (one OpenMP team), the variants interleaved round by round:

- ``contiguous``: as the engine runs it today;
- ``channels_last``: a copy whose convolution weights are channels-last (the activations follow);
- under ``--autocast`` (bf16) also ``bf16_norms`` and ``bf16_norms+channels_last``: GroupNorm run in bf16 on
  bf16 inputs, where autocast otherwise casts each convolution's bf16 output back to float32 for it (the SiLU
  after it then runs in bf16 too). This changes the numerics: the record gives each variant's deviation from
  the float32 pass, and a variant worth adopting needs the adherence judges re-run (val, then test).

Speeds mean something only on a CPU that computes bf16 natively (``native_bf16`` in the record).

Usage: python scripts/experiments/step_variants.py [--autocast] --out docs/results/<machine>/step_variants.json
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ditto_live.bench.report import cpu_record
from ditto_live.engine.backends import autocast_weights
from ditto_live.generation.models import load_bundle

ROUNDS = 30  # interleaved rounds; the first WARM are dropped
WARM = 3


class Bf16GroupNorm(nn.GroupNorm):
    """GroupNorm in the input's dtype (bf16 under autocast) instead of autocast's float32."""

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast("cpu", enabled=False):
            return F.group_norm(x, self.num_groups, self.weight.to(x.dtype), self.bias.to(x.dtype), self.eps)


def with_bf16_norms(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model)
    for module in out.modules():
        if type(module) is nn.GroupNorm:
            module.__class__ = Bf16GroupNorm
    return out


def channels_last(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def variants(student: nn.Module, autocast: bool) -> dict[str, nn.Module]:
    base = autocast_weights(student) if autocast else student  # as Engine.ito_model gives it
    out = {"contiguous": base, "channels_last": channels_last(base)}
    if autocast:
        out["bf16_norms"] = with_bf16_norms(base)
        out["bf16_norms+channels_last"] = channels_last(with_bf16_norms(base))
    return out


@contextlib.contextmanager
def maybe_autocast(enabled: bool) -> Iterator[None]:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
        yield


def network_pass(model: nn.Module, x: Tensor, autocast: bool) -> tuple[Tensor, Tensor]:
    """One ITO step's network work: v and its gradient with respect to x. -> (v, dL/dx) in float32"""
    x = x.detach().requires_grad_(True)
    with maybe_autocast(autocast):
        v = model(x, torch.full((1,), 0.9), torch.zeros(1, 4, dtype=torch.long), torch.full((1,), 0.5))
    v = v.float()
    v.square().mean().backward()
    assert x.grad is not None
    return v.detach(), x.grad


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--autocast", action="store_true", help="bf16 autocast, as the server on a bf16 CPU")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    student = load_bundle("default").ctm
    assert student is not None
    x = torch.randn(1, 1, 80, 512, generator=torch.Generator().manual_seed(0))
    models = variants(student, args.autocast)
    reference_v, reference_g = network_pass(student, x, autocast=False)
    deviation = {}
    for name, model in models.items():
        v, g = network_pass(model, x, args.autocast)
        deviation[name] = {"v_max_abs": float((v - reference_v).abs().max()),
                           "grad_rel_rms": float((g - reference_g).norm() / reference_g.norm())}
    seconds: dict[str, dict[int, list[float]]] = {name: {1: [], 2: []} for name in models}
    for r in range(ROUNDS):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for name, model in models.items():
                took = timed(lambda model=model: network_pass(model, x, args.autocast))
                if r >= WARM:
                    seconds[name][threads].append(took)
    median_ms = {name: {str(n): round(1000 * statistics.median(v), 2) for n, v in by.items()}
                 for name, by in seconds.items()}
    record = {
        "what": "median ms of the default student's forward + backward for x (one ITO step's network pass, "
                "[1, 1, 80, 512]) per variant at 1 and 2 threads, main thread only, interleaved "
                f"{ROUNDS - WARM} rounds; deviation from the float32 contiguous pass",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        **cpu_record(),
        "autocast": args.autocast,
        "median_ms": median_ms,
        "two_over_one": {name: round(ms["2"] / ms["1"], 3) for name, ms in median_ms.items()},
        "deviation": deviation,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("median_ms", "two_over_one", "deviation")}, indent=1))


if __name__ == "__main__":
    main()
