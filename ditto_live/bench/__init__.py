"""Benchmarks: the pipeline's stages in process and served jobs over OSC, and their reports."""
