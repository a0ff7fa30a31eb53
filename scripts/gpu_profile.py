#!/usr/bin/env python3
"""Where one ITO step of the paper preset spends its time on a GPU (a diagnostic for scripts/gpu_bench.sh).

Times forward + backward-to-x_T + Adam of a random-weight paper-preset student at 160 x 512, B = 1 and 4,
in fp32 (TF32 off/on) and in bf16 weights + channels-last under autocast, then prints torch.profiler's
top operators of the slowest variant. Also measures the parity check's noise floor: two eager runs of
the same 3 Adam steps under bf16, compared as the backends' parity check compares a backend to eager.
"""

from __future__ import annotations

import argparse
import time

import torch

from ditto_live.engine.backends import for_gpu
from ditto_live.engine.distill import init_student_from_teacher
from ditto_live.engine.unet import UNET_PRESETS, UNet


def step_fn(model, x_shape, autocast: bool, device: str):
    b = x_shape[0]
    t = torch.full((b,), 999.0, device=device)
    tags = torch.zeros(b, 4, dtype=torch.long, device=device)
    w = torch.full((b,), 3.0, device=device)
    x = torch.randn(x_shape, device=device, generator=torch.Generator(device).manual_seed(0)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=5e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            x0 = model(x, t, tags, w)
        loss = x0.float().square().mean(dim=(1, 2, 3))
        loss.sum().backward(inputs=[x])
        opt.step()
    return step, x


def timed(step, n: int) -> float:
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(n):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    dev = "cuda"
    torch.manual_seed(0)
    base = UNet(UNET_PRESETS["paper"], (5, 5, 5, 5)).to(dev).eval().requires_grad_(False)
    student = init_student_from_teacher(base).eval().requires_grad_(False)
    fast = for_gpu(student)
    for name, model, amp, tf32 in [("fp32", student, False, False), ("fp32+tf32", student, False, True),
                                   ("bf16 weights, channels-last, autocast", fast, True, False)]:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        for b in (1, 4):
            step, _ = step_fn(model, (b, 1, 160, 512), amp, dev)
            print(f"{name:40s} B={b}: {timed(step, args.steps):7.1f} ms / ITO step")
    torch.backends.cudnn.benchmark = True
    step, _ = step_fn(fast, (1, 1, 160, 512), True, dev)
    print(f"{'bf16 + cudnn.benchmark':40s} B=1: {timed(step, args.steps):7.1f} ms / ITO step")
    torch.backends.cudnn.benchmark = False

    # the parity check's noise floor: eager against eager, 3 Adam steps from the same x_T, under bf16
    finals = []
    for _ in range(2):
        step, x = step_fn(fast, (1, 1, 160, 512), True, dev)
        start = x.detach().clone()
        for _ in range(3):
            step()
        finals.append(x.detach().clone())
    moved = (finals[0] - start).norm()
    print(f"bf16 eager vs eager after 3 Adam steps: {(finals[0] - finals[1]).norm() / moved:.3e} of the distance moved")

    step, _ = step_fn(fast, (1, 1, 160, 512), True, dev)
    timed(step, 3)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                            torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            step()
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=20))
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
