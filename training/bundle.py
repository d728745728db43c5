#!/usr/bin/env python3
"""Assembles the trained components into a model directory (docs/model-format.md).

    /usr/bin/python3 training/bundle.py --runs training/runs --out models/default [--components DIR]

A stage component already exported elsewhere (`stages.py export --f16`, e.g. on a GPU machine whose
optimizer-laden checkpoints stay there) is taken from DIR/<stage>.safetensors when present.

Weights are stored as F16 (the engine widens them to F32 at load) to keep the bundle small.
"""
import argparse
import json
import os
import shutil

import codec as codec_train
import stages


def model_json(sampling, coarse_hop, coarse_frames=stages.COARSE_FRAMES, fine_frames=stages.FINE_FRAMES, coarse_anchor=0):
    coarse_window = {"semanticFrames": coarse_frames, "acousticFrames": coarse_frames, "hop": coarse_hop}
    if coarse_anchor:
        coarse_window["anchor"] = coarse_anchor
    return {
        "format": "audiolm-node/model@1",
        "name": "audiolm-node default (synthetic speech, 16 kHz)",
        "family": "audiolm",
        "components": {"codec": "codec.safetensors", "semanticTokenizer": "semantic-tokenizer.safetensors",
                       "semantic": "semantic.safetensors", "coarse": "coarse.safetensors", "fine": "fine.safetensors"},
        "semantic": {"codebookSize": stages.K, "rate": 50, "dedupe": False, "vocab": stages.SEM,
                     "window": stages.SEM_WINDOW, "hop": stages.SEM_WINDOW // 2},
        "acoustic": {"rate": 50, "codebookSize": stages.C, "coarseLevels": stages.QC, "fineLevels": stages.Q - stages.QC},
        "coarse": {"vocab": stages.COARSE, "window": coarse_window},
        "fine": {"mode": "nonCausal", "window": {"frames": fine_frames, "hop": fine_frames // 2}},
        "sampling": sampling,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="training/runs")
    ap.add_argument("--out", default="models/default")
    ap.add_argument("--components", help="a folder of exported stage components to take as they are")
    ap.add_argument("--codec", help="the codec: a training checkpoint (default RUNS/codec/last.pt, exported in F16) or an "
                    "exported component taken as it is (models/default/codec.safetensors keeps the shipped one)")
    ap.add_argument("--temperatures", default="0.8,0.7,0.5", help="semantic,coarse,fine")
    ap.add_argument("--semantic-guidance", type=float,
                    help="classifier-free guidance scale of the semantic stage against its window from BOS alone (model.json sampling.semantic.guidance)")
    ap.add_argument("--coarse-guidance", type=float,
                    help="classifier-free guidance scale of the coarse stage against its window without acoustic history (model.json sampling.coarse.guidance)")
    ap.add_argument("--unconditional-coarse-temperature", type=float,
                    help="the coarse temperature of unconditional generation (model.json sampling.unconditional)")
    ap.add_argument("--coarse-hop", type=int, default=25,
                    help="new frames per coarse window: the rest of the window is history (25 of 150 keeps 125)")
    ap.add_argument("--coarse-anchor", type=int, default=0,
                    help="the prompt's first frames that every coarse window keeps in its history (model.json coarse.window.anchor)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    codec_out = os.path.join(args.out, "codec.safetensors")
    codec = args.codec or os.path.join(args.runs, "codec", "last.pt")
    if codec.endswith(".safetensors"):  # an exported codec, taken as it is
        if not (os.path.exists(codec_out) and os.path.samefile(codec, codec_out)):
            shutil.copy(codec, codec_out)
    else:
        model, _ = codec_train.load(codec)
        codec_train.export(model, codec_out, f16=True)
    shutil.copy(os.path.join(args.runs, "semantic", "semantic-tokenizer.safetensors"), args.out)
    frames = {}  # the window each stage was trained on (stages.py --frames), the model's window
    for st in ("semantic", "coarse", "fine"):
        done = args.components and os.path.join(args.components, f"{st}.safetensors")
        if done and os.path.exists(done):
            shutil.copy(done, os.path.join(args.out, f"{st}.safetensors"))
            facts = os.path.join(args.components, f"{st}.train.json")
            if os.path.exists(facts):
                with open(facts) as f:
                    fj = json.load(f)
                frames[st] = (fj.get("fineTunes") or [fj])[-1].get("frames")  # the last run's window
        else:
            ck = stages.write_component(os.path.join(args.runs, "stages", f"{st}.pt"), os.path.join(args.out, f"{st}.safetensors"), f16=True)
            frames[st] = ck.get("run", {}).get("frames")
    t = [float(v) for v in args.temperatures.split(",")]
    sampling = {"semantic": {"temperature": t[0]}, "coarse": {"temperature": t[1]}, "fine": {"temperature": t[2]}}
    if args.semantic_guidance:
        sampling["semantic"]["guidance"] = args.semantic_guidance
    if args.coarse_guidance:
        sampling["coarse"]["guidance"] = args.coarse_guidance
    if args.unconditional_coarse_temperature is not None:
        sampling["unconditional"] = {"coarse": {"temperature": args.unconditional_coarse_temperature}}
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(model_json(sampling, args.coarse_hop, frames.get("coarse") or stages.COARSE_FRAMES,
                             frames.get("fine") or stages.FINE_FRAMES, args.coarse_anchor), f, indent=2)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {args.out}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
