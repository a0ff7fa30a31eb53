"""The job runner: the contract the server and the stream use, the engine lock, the runner."""
