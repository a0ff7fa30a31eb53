"""Errors shared across the package."""


class UsageError(Exception):
    """A user-facing input error: printed as one clear line, exit status 2."""
