"""The one table of execution backend names (no torch import: the CLI's choices read it before torch loads).

``engine/backends.py`` builds them; ``ditto_live.generation.execution`` resolves ``auto`` per device.
"""

from __future__ import annotations

BACKENDS = {  # name -> what runs the ITO steps (and the decoder)
    "eager": "autograd + torch.optim.Adam, everywhere",
    "cudagraph": "the whole step captured in one CUDA graph and replayed (CUDA only)",
    "compiled": "torch.compile of the objective (a CUDA graph of the step on CUDA)",
    "exported": "forward + backward traced into one aten graph, Adam on its output",
    "tensorrt": "the exported graph compiled by torch-tensorrt (CUDA, when installed)",
}
CUDA_ONLY = ("cudagraph", "tensorrt")  # backends a CPU cannot run
BACKEND_CHOICES = ("auto", *BACKENDS)  # what --backend and [engine] backend accept; auto = fastest measured
