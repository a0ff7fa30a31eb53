"""Differentiable controls: a feature f(x0) on the normalised mel, a target builder, a loss."""
