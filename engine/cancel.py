"""Cancellation: the one exception every runner, loop and waiter raises when a job is cancelled.

Torch-free on purpose: the server's queue (``ditto_live/server/queue.py``) and its model-free runner catch and
raise it without importing the engine's numerics.
"""


class JobCancelled(Exception):
    """A job noticed that it was cancelled (``is_cancelled()`` answered True) and stopped."""
