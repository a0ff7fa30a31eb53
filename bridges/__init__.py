"""ditto_live.bridges: I/O adapters (OSC, MIDI, audio out, file drop). Never imports torch."""
