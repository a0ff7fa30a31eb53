"""Tag values and captions of corpus windows (genre, mood, tempo bucket, instrument)."""

from __future__ import annotations

from ditto_live.engine.tags import tempo_bucket

__all__ = ["caption", "tempo_bucket"]


def caption(mood: str, genre: str, bpm: float, instrument: str) -> str:
    """The text-control caption: "A [mood] [genre] song at [tempo] beats per minute played on [instrument]"."""
    return f"A {mood} {genre} song at {round(bpm)} beats per minute played on {instrument}"
