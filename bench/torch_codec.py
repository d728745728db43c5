#!/usr/bin/env python3
"""Time the PyTorch reference EnCodec (eager, CPU) for the node benchmarks.

Usage:
    python3 bench/torch_codec.py --model encodec_24khz.th --input input.npy \
        [--bandwidth 6] [--config config.json] [--runs 5] [--warmup 1] \
        [--threads N] [--encodec-src /tmp/encodec-ref]

--model   a state dict in the original checkpoint layout (torch.save of
          EncodecModel.state_dict(), e.g. encodec_24khz-d7cc33bc.th or the
          output of `scripts/encodec-reference.py --make`).
--input   .npy ([T] mono or [C, T]) or .wav at the model's sample rate.
--config  reference hyper-parameters (the config.json format written by
          scripts/encodec-reference.py and test/fixtures/make_encodec_fixtures.py);
          default: the 24 kHz model.

Prints one JSON object on stdout (medians of --runs after --warmup runs, no grad,
torch.set_num_threads(--threads or os.cpu_count())), with
encode_seconds_of_audio_per_second / decode_seconds_of_audio_per_second.
All the logic lives in scripts/encodec-reference.py; this file only wires it up.
"""

import argparse
import importlib.util
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_REF_SCRIPT = os.path.join(_HERE, os.pardir, "scripts", "encodec-reference.py")


def load_reference_module():
    """Import scripts/encodec-reference.py (its file name has a dash)."""
    spec = importlib.util.spec_from_file_location("encodec_reference", os.path.abspath(_REF_SCRIPT))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    er = load_reference_module()
    p = argparse.ArgumentParser(description="time the torch reference EnCodec encode/decode")
    p.add_argument("--model", required=True, help="state dict .th (original key layout)")
    p.add_argument("--input", required=True, help="input audio .npy or .wav")
    p.add_argument("--bandwidth", type=float, default=6.0, help="kbps (default %(default)s)")
    p.add_argument("--config", default=None, help="reference hyper-parameter json (default: 24 kHz)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="default: os.cpu_count()")
    p.add_argument("--encodec-src", default=er.DEFAULT_ENCODEC_SRC)
    args = p.parse_args(argv)

    encodec = er.import_encodec(args.encodec_src)
    cfg = None
    if args.config:
        with open(args.config) as f:
            cfg = json.load(f)
    model = er.load_state_dict_model(encodec, args.model, cfg)
    audio = er.load_audio(args.input)
    res = er.time_model(model, audio, args.bandwidth, runs=args.runs, warmup=args.warmup,
                        threads=args.threads or None)
    res["model"] = os.path.abspath(args.model)
    res["input"] = os.path.abspath(args.input)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
