"""ditto_live: real-time controllable music generation (DITTO-2) for Ableton Live, OSC and MIDI."""

__version__ = "0.1.0"
