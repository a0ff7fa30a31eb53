"""Start the real ditto_live OSC server with the model-free FakeRunner, for the device's contract test.

    python serve_fake.py OUTPUT_DIR [STEPS] [STEP_S]

Prints ``PORT <n>`` once it listens on 127.0.0.1 (an ephemeral port), serves until stdin closes.
Exits 3 with ``SKIP <reason>`` when the server package is not importable.
"""

from __future__ import annotations

import sys

try:
    from ditto_live.config import ServerConfig
    from ditto_live.queue import FakeRunner
    from ditto_live.server import Server
except ImportError as exc:  # the server is another part of the project; say why the test cannot run
    sys.stdout.write(f"SKIP ditto_live.server is not available: {exc}\n")
    sys.stdout.flush()
    sys.exit(3)


def main() -> int:
    out = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    step_s = float(sys.argv[3]) if len(sys.argv) > 3 else 0.02
    config = ServerConfig(host="127.0.0.1", port=0, output_dir=out, allowed_roots=(out,), progress_interval_s=0.05)
    with Server(config, FakeRunner(out, steps=steps, step_s=step_s)) as server:
        sys.stdout.write(f"PORT {server.address[1]}\n")
        sys.stdout.flush()
        sys.stdin.read()  # the test closes stdin (or dies) to stop us
    return 0


if __name__ == "__main__":
    sys.exit(main())
