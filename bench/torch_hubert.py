#!/usr/bin/python3
"""Time the PyTorch reference HuBERT (eager, CPU, float32) for the node benchmarks.

Usage:
    /usr/bin/python3 scripts/hubert-reference.py --make /tmp/hubert-full     # once
    /usr/bin/python3 bench/torch_hubert.py --model /tmp/hubert-full \
        --input /tmp/hubert-full/input_5s.npy [--layer 9] [--runs 5] [--warmup 1] [--threads N]

--model   an HF directory (config.json + model.safetensors or pytorch_model.bin), an HF
          .safetensors / .bin next to its config.json, or a fairseq checkpoint .pt.
--input   .npy (float [T]) or 16 kHz mono .wav.

Prints one JSON object on stdout: seconds_of_audio_per_second (audio seconds / median wall
seconds of waveform -> layer --layer), median_s, runs_s, threads, ... (torch.no_grad,
torch.set_num_threads(--threads or os.cpu_count()); OMP_NUM_THREADS / OPENBLAS_NUM_THREADS /
MKL_NUM_THREADS set to the same and OMP_WAIT_POLICY=PASSIVE unless set, before torch is
imported). All the logic lives in scripts/hubert-reference.py; this file only wires it up.
"""

import argparse
import importlib.util
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPT = os.path.join(_HERE, os.pardir, "scripts", "hubert-reference.py")


def load_script():
    """Import scripts/hubert-reference.py (its file name has a dash; it imports no torch)."""
    spec = importlib.util.spec_from_file_location("hubert_reference_script", os.path.abspath(_SCRIPT))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    hs = load_script()
    p = argparse.ArgumentParser(description="time the torch reference HuBERT (waveform -> layer L)")
    p.add_argument("--model", required=True, help="HF dir / .safetensors / .bin, or fairseq .pt")
    p.add_argument("--input", required=True, help="audio .npy or 16 kHz .wav")
    p.add_argument("--layer", type=int, default=hs.DEFAULT_LAYER)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="default: os.cpu_count()")
    args = p.parse_args(argv)
    threads = hs.configure_threads(args.threads or None)  # before torch is imported
    res = hs.time_path(args.model, args.input, args.layer, args.runs, args.warmup, threads)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
