#!/usr/bin/env bash
# The system packages the tests need, which pip cannot install: JACK (its dummy driver carries the audio and
# MIDI tests), PortAudio (sounddevice), FluidSynth (rendering the corpus), liblo-tools (a non-Python OSC
# client for the protocol tests) and Node.js (the Max for Live device's tests). `make test` runs this first.
# With apt (Debian, Ubuntu): installs the missing ones, a no-op when all are present, sudo only when not root.
# Without apt (macOS, Windows): checks for them and, when any is missing, stops with one line naming them and
# how to get them. Prints one line either way.
set -euo pipefail
PKGS=(jackd2 libjack-jackd2-0 libportaudio2 libasound2-dev libfluidsynth3 liblo-tools nodejs)
WHY="JACK + PortAudio for the audio/MIDI tests, FluidSynth for the corpus, liblo-tools for OSC, Node.js for the device"

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
    missing=()
    command -v jackd >/dev/null 2>&1 || missing+=("JACK (jackd)")
    command -v fluidsynth >/dev/null 2>&1 || missing+=("FluidSynth")
    command -v oscsend >/dev/null 2>&1 || missing+=("liblo (oscsend)")
    command -v node >/dev/null 2>&1 || missing+=("Node.js (node)")
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "system packages for the tests: present (no apt here; $WHY)"
        exit 0
    fi
    list=$(printf '%s, ' "${missing[@]}")
    echo "system packages for the tests missing and no apt-get to install them: ${list%, } ($WHY)." \
         "macOS: brew install jack fluid-synth liblo node;" \
         "Windows: winget install OpenJS.NodeJS.LTS Jackaudio.JACK2, or run in WSL (Debian/Ubuntu) where this script installs all." >&2
    exit 1
fi

# installed, not only known to dpkg: a removed package keeps its config files ("deinstall ok config-files")
installed() { [[ "$(dpkg -s "$1" 2>/dev/null)" == *"Status: install ok installed"* ]]; }
missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "system packages for the tests: present ($WHY)"
    exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages for the tests with ${SUDO:+sudo }apt-get: ${missing[*]} ($WHY)"
$SUDO apt-get update -qq
echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
