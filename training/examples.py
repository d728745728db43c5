#!/usr/bin/env python3
"""Writes the example prompts of examples/: the first 3 s of one held-out utterance (held-out
speaker, held-out sentences) of two low and two high voices, 16 kHz 16-bit mono.

    /usr/bin/python3 training/examples.py --data training/data --out examples
"""
import argparse
import os

import common
import f0

PICKS = [("es37", "low-male"), ("fl03", "low-male-2"), ("es24", "high-female"), ("fl01", "high-female-2")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--out", default="examples")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    held = common.load_split(args.data, "heldout")
    man = common.load_manifest(args.data)
    speakers = {s["id"]: s for s in man["speakers"]}
    lines = ["# Example prompts", "", "Held-out speakers reading held-out sentences (training/corpus.py); neither was seen in",
             "training. The first 3 s of one utterance each, 16 kHz mono. Made by `training/examples.py`.", "",
             "| file | speaker | synthesiser voice | median F0 | text (the prompt is its first 3 s) |", "| --- | --- | --- | --- | --- |"]
    for sp, name in PICKS:
        u, w = next((u, w) for u, w in held if u["speaker"] == sp)
        clip = w[: int(args.seconds * 16000)]
        fn = f"{name}.wav"
        common.write_wav(os.path.join(args.out, fn), clip)
        s = speakers[sp]
        voice = f"{s['engine']} {s['voice']}" + (f" -p {s['pitch']} -s {s['speed']}" if s["engine"] == "espeak-ng" else f" f0 {s['f0']}")
        lines.append(f"| {fn} | {sp} | {voice} | {f0.median_f0(clip):.0f} Hz | {u['text'][:90]}… |")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
