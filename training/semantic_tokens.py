#!/usr/bin/env python3
"""Semantic tokenizer of the shipped model: MFCC + Δ + ΔΔ with per-utterance CMVN (docs/mfcc.md,
50 frames/s, aligned with HuBERT base's and the codec's frames) assigned to K k-means centroids
fitted on the training split. Writes the centroids, the tokens of every utterance and the
engine component.

    /usr/bin/python3 training/semantic_tokens.py --data training/data --out training/runs/semantic --k 256 --seed 1

Why MFCC and not HuBERT: nothing may be downloaded, and a HuBERT trained here on two CPU cores
would be worse than MFCC. MFCC + CMVN tokens are mostly phonetic and partly speaker-normalised,
which is what the semantic stage should model; the voice is left to the acoustic stages.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
from sklearn.cluster import MiniBatchKMeans

import common

sys.path.insert(0, os.path.join(common.ROOT, "test", "fixtures"))
from hubert_reference import mfcc  # noqa: E402  (our numpy implementation of docs/mfcc.md)


def assign(feats, centroids):
    d = (feats ** 2).sum(1, keepdims=True) - 2 * feats @ centroids.T + (centroids ** 2).sum(1)[None]
    return d.argmin(1).astype(np.int32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--out", default="training/runs/semantic")
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fit-frames", type=int, default=300000)
    ap.add_argument("--centroids", help="reuse these centroids (.npy, or a tokenizer component such as models/default/semantic-tokenizer.safetensors) "
                    "instead of fitting: tokens for a grown corpus, or the shipped tokenizer's tokens")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    man = common.load_manifest(args.data)
    feats = {}
    for u in man["utterances"]:
        wav, _ = common.read_wav(os.path.join(args.data, u["path"]))
        feats[u["id"]] = mfcc(wav, dtype=np.float32).astype(np.float32)
    # fitted on the "train" split alone (the "extra" split is for the stages)
    train = np.concatenate([feats[u["id"]] for u in man["utterances"] if u["split"] == "train"])
    if args.centroids:
        if args.centroids.endswith(".safetensors"):  # an exported tokenizer, e.g. the shipped one
            centroids = common.load_safetensors(args.centroids)[0]["kmeans.centroids"].astype(np.float32)
        else:
            centroids = np.load(args.centroids).astype(np.float32)
    else:
        rng = np.random.default_rng(args.seed)
        fit = train[rng.permutation(len(train))[: args.fit_frames]]
        km = MiniBatchKMeans(n_clusters=args.k, random_state=args.seed, batch_size=4096, n_init=3, max_iter=100).fit(fit)
        centroids = km.cluster_centers_.astype(np.float32)
    np.save(os.path.join(args.out, "centroids.npy"), centroids)
    tokens = {uid: assign(f, centroids) for uid, f in feats.items()}
    np.savez(os.path.join(args.out, "tokens.npz"), **tokens)
    used = np.bincount(np.concatenate([tokens[u["id"]] for u in man["utterances"] if u["split"] == "train"]), minlength=args.k)
    p = used / used.sum()
    ent = -(p[p > 0] * np.log2(p[p > 0])).sum()
    print(f"{len(train)} training frames, K={args.k}, {int((used > 0).sum())} used, unigram entropy {ent:.2f} bits")
    comp = os.path.join(args.out, "semantic-tokenizer.safetensors")
    subprocess.run(["node", os.path.join(common.ROOT, "dist", "cli.js"), "convert", "kmeans",
                    os.path.join(args.out, "centroids.npy"), "--mfcc", "-o", comp], check=True)


if __name__ == "__main__":
    main()
