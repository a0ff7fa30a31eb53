"""Embed audio clips with musicnn (Pons & Serra 2019), in the interpreter that has TensorFlow and musicnn.

Run as a script by ``ditto_live.judges.quality.MusicnnEmbedding``, usually in its own virtual environment
(``scripts/setup_judges.sh``): it imports only numpy, librosa, TensorFlow and musicnn, never the project,
so the project's torch and TensorFlow never share an interpreter. The musicnn wheel carries its
MagnaTagATune and Million Song Dataset checkpoints; nothing is downloaded.

    python musicnn_worker.py --audio sets.npz --out embeddings.npz [--model MSD_musicnn] [--layer penultimate]

``sets.npz`` holds one float32 array [n, samples] per set plus ``sample_rate``; ``embeddings.npz`` gets one
float32 array [n, patches, D] per set (the layer's activations for each 3 s patch of each clip) and
``model``, ``layer``. The front end is musicnn's own (``musicnn.extractor.batch_data``): 16 kHz, 512-point
STFT, hop 256, 96 mels, log10(10000 x + 1); patches of 187 frames (3 s) every 92 frames (3 per 5.94 s window).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

PATCH_FRAMES = 187  # frames per model input: the 3 s the models were trained on
PATCH_HOP = 92  # frames between patch starts: about half a patch, so a 5.94 s window gives 3 covering it
LAYERS = ("penultimate", "mean_pool", "max_pool", "taggram")  # what --layer may name (musicnn models)


def log_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """musicnn's input representation of one clip. audio [samples] -> [frames, 96]"""
    import librosa
    from musicnn import configuration as config

    y = librosa.resample(audio.astype(np.float32), orig_sr=sample_rate, target_sr=config.SR)
    mel = librosa.feature.melspectrogram(y=y, sr=config.SR, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE,
                                         n_mels=config.N_MELS).T
    return np.log10(10000 * mel.astype(np.float16) + 1).astype(np.float32)


def patches(rep: np.ndarray) -> np.ndarray:
    """[frames, 96] -> [P, 187, 96]; a clip shorter than one patch is repeat-padded (musicnn's training
    convention)."""
    if len(rep) < PATCH_FRAMES:
        rep = np.concatenate([rep] * (PATCH_FRAMES // len(rep) + 1))[:PATCH_FRAMES]
    starts = range(0, len(rep) - PATCH_FRAMES + 1, PATCH_HOP)
    return np.stack([rep[s:s + PATCH_FRAMES] for s in starts])


class Musicnn:
    """One TF1-style musicnn graph restored from the wheel's checkpoint."""

    def __init__(self, model: str, layer: str):
        import os

        import tensorflow as tf
        from musicnn import configuration as config
        from musicnn import models

        tf.compat.v1.disable_eager_execution()
        labels = config.MTT_LABELS if model.startswith("MTT") else config.MSD_LABELS
        self.graph = tf.Graph()
        with self.graph.as_default():
            with tf.name_scope("model"):
                self.x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, config.N_MELS])
                self.is_training = tf.compat.v1.placeholder(tf.bool)
                out = models.define_model(self.x, self.is_training, model, len(labels))
            named = {"taggram": tf.nn.sigmoid(out[0]), "mean_pool": out[6], "max_pool": out[7],
                     "penultimate": out[8]}
            self.output = named[layer]
            self.session = tf.compat.v1.Session(graph=self.graph)
            checkpoint = os.path.join(os.path.dirname(models.__file__), model) + "/"
            tf.compat.v1.train.Saver().restore(self.session, checkpoint)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """[B, 187, 96] -> [B, D]"""
        out: Any = self.session.run(self.output, feed_dict={self.x: batch, self.is_training: False})
        return np.asarray(out, dtype=np.float32).reshape(len(batch), -1)


def embed_set(net: Musicnn, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[n, samples] -> [n, P, D] (every clip of a set has the same length, hence the same P)."""
    return np.stack([net(patches(log_mel(clip, sample_rate))) for clip in audio])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", required=True, help="npz: one [n, samples] array per set, and sample_rate")
    parser.add_argument("--out", required=True, help="npz to write: one [n, patches, D] array per set")
    parser.add_argument("--model", default="MSD_musicnn", choices=("MSD_musicnn", "MTT_musicnn"))
    parser.add_argument("--layer", default="penultimate", choices=LAYERS)
    args = parser.parse_args()
    data = np.load(args.audio)
    sample_rate = int(data["sample_rate"])
    net = Musicnn(args.model, args.layer)
    out = {name: embed_set(net, data[name], sample_rate) for name in data.files if name != "sample_rate"}
    np.savez(args.out, model=np.array(args.model), layer=np.array(args.layer), **out)  # type: ignore[arg-type]
    # (numpy's stub types the arrays' **kwds against its allow_pickle flag)


if __name__ == "__main__":
    main()
