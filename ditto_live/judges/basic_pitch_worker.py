"""Transcribe audio files to notes with basic-pitch, in the interpreter that has it (the judges' venv).

Run as a script by ``ditto_live.judges.notes.BasicPitch`` (``scripts/setup_judges.sh`` installs basic-pitch
0.4.0 there beside TensorFlow): it imports only basic-pitch and its dependencies, never the project. The
model is the ICASSP 2022 one the wheel ships, as TF Lite (run by TensorFlow's own ``tf.lite`` interpreter)
or ONNX (onnxruntime, when installed); nothing is downloaded.

    python basic_pitch_worker.py --paths paths.json --out notes.json [--runtime tflite|onnx]

``paths.json`` is a list of audio file paths; ``notes.json`` maps each to its note events
[[start_s, end_s, midi_pitch], ...] with basic-pitch's default thresholds (onset 0.5, frame 0.3, notes of
at least 127.7 ms, the "melodia trick"), as its command line writes them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", required=True, help="JSON list of audio files")
    parser.add_argument("--out", required=True, help="JSON to write: {path: [[start_s, end_s, midi], ...]}")
    parser.add_argument("--runtime", default="tflite", choices=("tflite", "onnx"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # basic-pitch warns at import about each runtime it does not find
    from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
    from basic_pitch.inference import Model, predict

    suffix = FilenameSuffix.tflite if args.runtime == "tflite" else FilenameSuffix.onnx
    model = Model(build_icassp_2022_model_path(suffix))
    with open(args.paths, encoding="utf-8") as fh:
        paths = json.load(fh)
    out = {}
    for path in paths:
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # it prints per file
            _, _, events = predict(path, model)
        out[path] = sorted([float(start), float(end), int(pitch)] for start, end, pitch, *_ in events)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
