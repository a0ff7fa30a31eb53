"""ditto_live.engine: the DITTO-2 engine in pure PyTorch (no I/O, no server, no bridges)."""
