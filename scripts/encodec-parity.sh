#!/usr/bin/env bash
# Full-size EnCodec 24 kHz parity through the CLI: Meta's reference code builds the model with
# random weights and writes a 3 s input with its codes at 6 kbps and its decode; we convert the
# checkpoint, encode the WAV and decode the reference codes, and the reference script compares.
# Needs /usr/bin/python3 with torch (Debian: python3-torch python3-scipy) and a checkout of
# facebookresearch/encodec at $ENCODEC_SRC (default /tmp/encodec-ref). Not run by CI.
#   bash scripts/encodec-parity.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/encodec-full}
SRC=${ENCODEC_SRC:-/tmp/encodec-ref}
[ -f "$DIR/encodec_24khz_random.th" ] || /usr/bin/python3 scripts/encodec-reference.py --make "$DIR" --encodec-src "$SRC"
node dist/cli/main.js convert encodec "$DIR/encodec_24khz_random.th" -o "$DIR/ours.safetensors"
node dist/cli/main.js codec encode "$DIR/input.wav" -m "$DIR/ours.safetensors" --bandwidth 6 -o "$DIR/our_codes.npy"
node dist/cli/main.js codec decode "$DIR/codes_6kbps.npy" -m "$DIR/ours.safetensors" -o "$DIR/our_decoded.wav"
/usr/bin/python3 scripts/encodec-reference.py --compare "$DIR" --codes "$DIR/our_codes.npy" --audio "$DIR/our_decoded.wav" --encodec-src "$SRC"
