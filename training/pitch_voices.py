#!/usr/bin/env python3
"""New training voices made by shifting each training speaker's speech in pitch: codec codes and
semantic tokens of every shifted utterance, for the coarse stage (stages.py --pitch-voices).

The training split's fixed voices are mostly low: 48 of its 55 speakers sit below 140 Hz and only
five above 200 Hz, so continuations of high held-out voices (flite slt at 224 Hz, espeak-ng shelby
at 190 Hz) came out lower than their prompts. Each training speaker gets one shifted copy of all
its utterances (sox `pitch`, which keeps the duration): speakers below 170 Hz are moved to a target
F0 drawn from [170, 290] Hz (at least +300, at most +1200 cents), the others down by 300-800 cents.
A copy keeps its speaker's fixed voice, so it forms a voice group of its own for cross-utterance
windows, and the unshifted original's semantic tokens serve as its pitch-shifted content tokens.
With `--band LO,HI` every speaker is instead moved to a target drawn from [LO, HI] Hz (at most an
octave either way, at least 300 cents: a target nearer than that goes 300 cents the same way), for
a second copy aimed at the high voices.

    /usr/bin/python3 training/pitch_voices.py --out training/runs/pitch-voices --seed 1
    /usr/bin/python3 training/pitch_voices.py --out training/runs/pitch-voices-high --seed 2 --band 190,290
"""
import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

import codec as codec_train
import common
import f0 as f0mod

sys.path.insert(0, os.path.join(common.ROOT, "test", "fixtures"))
from hubert_reference import mfcc  # noqa: E402
from semantic_tokens import assign  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--semantic", default="training/runs/semantic", help="holds centroids.npy")
    ap.add_argument("--codec", default="training/runs/codec/last.pt")
    ap.add_argument("--out", default="training/runs/pitch-voices")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--band", help="LO,HI: move every speaker to a target F0 drawn from [LO, HI] Hz")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    man = common.load_manifest(args.data)
    centroids = np.load(os.path.join(args.semantic, "centroids.npy")).astype(np.float32)
    model, _ = codec_train.load(args.codec)
    by = {}
    for u in man["utterances"]:
        if u["split"] == "train":
            by.setdefault(u["speaker"], []).append(u)
    rng = np.random.default_rng(args.seed)
    band = args.band and [float(x) for x in args.band.split(",")]
    voices = {}
    for sp in sorted(by):
        f0s = [f0mod.median_f0(common.read_wav(os.path.join(args.data, u["path"]))[0]) for u in by[sp][:3]]
        f0 = float(np.nanmedian(f0s))
        if band:
            c = 1200 * np.log2(rng.uniform(*band) / f0)
            cents = int(np.clip(c, -1200, 1200)) if abs(c) >= 300 else (300 if c >= 0 else -300)
        elif f0 < 170:
            cents = int(np.clip(1200 * np.log2(rng.uniform(170, 290) / f0), 300, 1200))
        else:
            cents = -int(rng.integers(300, 801))
        voices[sp] = {"f0": round(f0, 1), "cents": cents, "targetF0": round(f0 * 2 ** (cents / 1200), 1)}
    tmp = tempfile.mkdtemp(prefix="pitch-voices-")
    utts = [u for sp in sorted(by) for u in by[sp]]

    def one(u):
        wav = common.sox_pitch(os.path.join(args.data, u["path"]), voices[u["speaker"]]["cents"], tmp)
        return u["id"], model.encode(wav), assign(mfcc(wav, dtype=np.float32).astype(np.float32), centroids)

    with ThreadPoolExecutor(args.jobs) as ex:
        done = list(ex.map(one, utts))
    os.rmdir(tmp)
    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, "codes.npz"), **{i: c for i, c, _ in done})
    np.savez(os.path.join(args.out, "tokens.npz"), **{i: t for i, _, t in done})
    with open(os.path.join(args.out, "voices.json"), "w") as f:
        json.dump(dict({"seed": args.seed}, **({"band": args.band} if args.band else {}), voices=voices), f, indent=1)
    hi = sum(v["targetF0"] >= 170 for v in voices.values())
    print(f"{len(utts)} utterances of {len(voices)} speakers shifted ({hi} voices now at >= 170 Hz), {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
