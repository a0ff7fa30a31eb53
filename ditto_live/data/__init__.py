"""Corpus building: symbolic music from what packages ship, rendered to audio and mel shards."""
