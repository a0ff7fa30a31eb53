#!/usr/bin/env bash
# The judges' own interpreter (issue 31): the quality judge's musicnn (its wheel carries the MagnaTagATune and Million
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
# the note-level melody judge: basic-pitch 0.4.0 ships its ICASSP 2022 model (TF Lite, ONNX, SavedModel);
# its metadata asks for tensorflow < 2.15.1 on Python 3.11, so it goes in without its dependencies and its model
# runs as TF Lite on the TensorFlow above (ditto_live/judges/basic_pitch_worker.py); the rest of what it imports:
"$venv/bin/pip" install --quiet --no-deps "basic-pitch==0.4.0"
"$venv/bin/pip" install --quiet "numpy<2" "pretty-midi>=0.2.9" "resampy>=0.2.2,<0.4.3" "mir-eval>=0.6" scikit-learn \
    typing-extensions
"$venv/bin/python" -c "import musicnn, basic_pitch, tensorflow as tf; print('judges interpreter ready: tensorflow', tf.__version__)"
