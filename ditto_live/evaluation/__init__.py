"""The evaluation suite: the paper's tables re-measured on this project's models."""
