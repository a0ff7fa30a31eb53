"""The renderers of scripts/figures.py, grouped by topic; ``registry.FIGURES`` names each span's renderer."""
