#!/usr/bin/env python3
"""Semantic tokens of pitch-shifted copies of the training split, for the coarse stage's
voice-conversion windows (stages.py --shifted-semantic).

MFCC k-means tokens are not free of the voice: on held-out prompts, speaker conversion followed the
content speaker's pitch whenever that speaker was much higher than the voice prompt. Training windows
whose content tokens come from the same speech shifted in pitch (sox `pitch`, which keeps the
duration, so the frames still line up with the codes) while the acoustic targets keep the original
voice teach the coarse stage to take the voice from the acoustic history instead.

    /usr/bin/python3 training/shifted_tokens.py --data training/data --semantic training/runs/semantic --seed 1
"""
import argparse
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import common

sys.path.insert(0, os.path.join(common.ROOT, "test", "fixtures"))
from hubert_reference import mfcc  # noqa: E402
from semantic_tokens import assign  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--semantic", default="training/runs/semantic", help="holds centroids.npy; tokens-shifted.npz is written there")
    ap.add_argument("--splits", default="train", help="whose utterances get a shifted copy")
    ap.add_argument("--min-cents", type=int, default=300)
    ap.add_argument("--max-cents", type=int, default=800)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    man = common.load_manifest(args.data)
    centroids = np.load(os.path.join(args.semantic, "centroids.npy")).astype(np.float32)
    splits = set(args.splits.split(","))
    utts = [u for u in man["utterances"] if u["split"] in splits]
    rng = np.random.default_rng(args.seed)
    # up or down by min..max cents, drawn per utterance
    cents = [int(rng.integers(args.min_cents, args.max_cents + 1)) * (1 if rng.random() < 0.5 else -1) for _ in utts]
    tmp = tempfile.mkdtemp(prefix="shifted-")

    def one(i):
        u = utts[i]
        wav = common.sox_pitch(os.path.join(args.data, u["path"]), cents[i], tmp)
        return u["id"], assign(mfcc(wav, dtype=np.float32).astype(np.float32), centroids)

    with ThreadPoolExecutor(args.jobs) as ex:
        tokens = dict(ex.map(one, range(len(utts))))
    os.rmdir(tmp)
    orig = np.load(os.path.join(args.semantic, "tokens.npz"))
    same = [np.mean(orig[k][: len(v)] == v[: len(orig[k])]) for k, v in tokens.items()]
    lens = [abs(len(orig[k]) - len(v)) for k, v in tokens.items()]
    np.savez(os.path.join(args.semantic, "tokens-shifted.npz"), **tokens, **{f"cents:{u['id']}": np.array(c) for u, c in zip(utts, cents)})
    print(f"{len(tokens)} utterances shifted by {args.min_cents}-{args.max_cents} cents up or down; "
          f"tokens equal to the unshifted ones: {np.mean(same):.1%}; length change at most {max(lens)} frames")


if __name__ == "__main__":
    main()
