"""The OSC server: requests, clients, budget, chunks, the queue, the stream, MIDI control."""
