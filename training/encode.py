#!/usr/bin/env python3
"""Encodes every corpus utterance with the trained codec (all RVQ levels) for the acoustic stages.
The engine gives the same codes (training/check_codec.py compares them).

    /usr/bin/python3 training/encode.py --codec training/runs/codec/last.pt --out training/runs/codes.npz
"""
import argparse
import time

import numpy as np
import torch

import codec as codec_train
import common


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--codec", default="training/runs/codec/last.pt")
    ap.add_argument("--out", default="training/runs/codes.npz")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = codec_train.load(args.codec)
    man = common.load_manifest(args.data)
    out = {}
    t0 = time.time()
    for split in ("train", "heldout", "extra"):
        for u, w in common.load_split(args.data, split):
            out[u["id"]] = model.encode(w)
    np.savez(args.out, **out)
    n = sum(c.shape[1] for c in out.values())
    print(f"{len(out)} utterances, {n} frames, {time.time() - t0:.0f} s")
    for l in range(8):
        used = len(np.unique(np.concatenate([c[l] for c in out.values()])))
        print(f"level {l}: {used} codes used", end="; ")
    print()


if __name__ == "__main__":
    main()
