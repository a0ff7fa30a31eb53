#!/usr/bin/env bash
# System packages: JACK (dummy driver for audio/MIDI tests), PortAudio, FluidSynth (corpus rendering),
# liblo-tools (a non-Python OSC client for protocol tests), Node.js (the Max for Live device's tests).
set -euo pipefail
PKGS=(jackd2 libjack-jackd2-0 libportaudio2 libasound2-dev libfluidsynth3 liblo-tools nodejs)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
