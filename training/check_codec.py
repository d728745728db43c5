#!/usr/bin/env python3
"""Checks that the engine runs an exported codec exactly as the training code does: exports a
checkpoint, encodes and decodes held-out clips with `audiolm codec encode/decode` and compares codes
and audio with the PyTorch model.

    /usr/bin/python3 training/check_codec.py training/runs/codec/last.pt [--clips 3]
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import torch

import codec as codec_train
import common

CLI = os.path.join(common.ROOT, "dist", "cli.js")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--clips", type=int, default=3)
    args = ap.parse_args()
    model, _ = codec_train.load(args.checkpoint)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        st = os.path.join(tmp, "codec.safetensors")
        codec_train.export(model, st)
        for u, wav in common.load_split(args.data, "heldout")[: args.clips]:
            src = os.path.join(args.data, u["path"])
            subprocess.run(["node", CLI, "codec", "encode", src, "-m", st, "-o", f"{tmp}/c.npy"], check=True)
            subprocess.run(["node", CLI, "codec", "decode", f"{tmp}/c.npy", "-m", st, "-o", f"{tmp}/d.wav"], check=True)
            codes = np.load(f"{tmp}/c.npy")[0]
            dec, _ = common.read_wav(f"{tmp}/d.wav")
            with torch.no_grad():
                x = torch.from_numpy(wav)[None]
                z = codec_train.SEANet.run(model.net.encoder, x[:, None])
                q, ref_codes, _ = model.rvq(z)
                y = codec_train.SEANet.run(model.net.decoder, q)[0, 0].numpy()
                # decode the engine's codes too, to separate encode and decode differences
                e = sum(model.rvq.embed[l][torch.from_numpy(codes[l]).long()] for l in range(codes.shape[0]))
                y_eng = codec_train.SEANet.run(model.net.decoder, e.t()[None])[0, 0].numpy()
            ref_codes = ref_codes[0].numpy()
            same = (ref_codes[:, : codes.shape[1]] == codes).mean() if ref_codes.shape == codes.shape else float("nan")
            n = min(len(dec), len(y_eng))
            rel = np.linalg.norm(dec[:n] - y_eng[:n]) / np.linalg.norm(y_eng[:n])
            print(f"{u['id']}: frames {codes.shape[1]} (torch {ref_codes.shape[1]}), codes equal {same * 100:.2f} %, "
                  f"decode rel L2 {rel:.2e}, lengths {len(dec)} vs {len(y)}")


if __name__ == "__main__":
    main()
