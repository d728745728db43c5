#!/usr/bin/env bash
# Full-size HuBERT-base parity: our PyTorch reference of the published architecture
# (test/fixtures/hubert_reference.py) makes random weights in the Hugging Face layout, 2 s and
# 5 s inputs, layer-9 hidden states and 500-cluster k-means tokens; we convert, extract and
# tokenize (the CLI for tokens), and the reference script compares (rel L2 < 1e-4, ≥ 99.9 % tokens).
# Needs /usr/bin/python3 with torch, scipy and scikit-learn. Not run by CI.
#   bash scripts/hubert-parity.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/hubert-full}
[ -f "$DIR/model.safetensors" ] || /usr/bin/python3 scripts/hubert-reference.py --make "$DIR"
node dist/cli/main.js convert hubert "$DIR/model.safetensors" --kmeans "$DIR/kmeans.joblib" --layer 9 -o "$DIR/ours.safetensors"
node --input-type=module -e "
import { SemanticTokenizer, decodeNpy, writeNpy } from './dist/index.js';
import { readFileSync } from 'node:fs';
const tok = await SemanticTokenizer.load('$DIR/ours.safetensors');
for (const s of ['2s', '5s']) {
  const [f] = await tok.features([decodeNpy(readFileSync('$DIR/input_' + s + '.npy')).data]);
  await writeNpy('$DIR/ours_hidden_' + s + '.npy', f.data, [f.frames, f.dim]);
}
await tok.dispose();"
for s in 2s 5s; do
  node dist/cli/main.js tokenize "$DIR/input_$s.wav" -m "$DIR/ours.safetensors" -o "$DIR/ours_tokens_$s.npy"
  /usr/bin/python3 scripts/hubert-reference.py --compare "$DIR" --hidden "$DIR/ours_hidden_$s.npy" --tokens "$DIR/ours_tokens_$s.npy" --input "$s"
done
