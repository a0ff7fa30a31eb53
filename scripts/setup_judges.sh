#!/usr/bin/env bash
# The quality judge's own interpreter (issue 31): musicnn (its wheel carries the MagnaTagATune and Million
# Song Dataset checkpoints) on TensorFlow 2.15.1 CPU, whose built-in Keras 2 gives the tf.compat.v1.layers
# musicnn's graph code calls, and whose numpy < 2 the project's environment (numpy 2) cannot share; so it
# lives in a virtual environment of its own that ditto_live/judges/quality.py drives through files.
# Nothing is downloaded at run time.
#
#   bash scripts/setup_judges.sh [VENV]      # default ~/.venvs/judges; then, if VENV is elsewhere,
#   export DITTO_LIVE_JUDGES_PYTHON=VENV/bin/python
set -euo pipefail
venv="${1:-$HOME/.venvs/judges}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "tensorflow-cpu==2.15.1" "numpy<2" "librosa==0.10.2.post1" soundfile
# musicnn 0.1.0 pins numpy < 1.17 and tensorflow >= 1.14 from 2019; its code runs on the versions above
"$venv/bin/pip" install --quiet --no-deps "musicnn==0.1.0"
"$venv/bin/python" -c "import musicnn, tensorflow as tf; print('judges interpreter ready: tensorflow', tf.__version__)"
