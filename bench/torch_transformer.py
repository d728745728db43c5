#!/usr/bin/env python3
"""Time the PyTorch reference transformer stage (eager, CPU, KV cache) for the node benchmarks.

Usage:
    /usr/bin/python3 bench/torch_transformer.py --make /tmp/stage.safetensors   # once
    /usr/bin/python3 bench/torch_transformer.py --model /tmp/stage.safetensors \
        [--batch 1,4,16] [--prompt 64] [--steps 64] [--runs 3] [--warmup 1] [--threads N]

--model   a transformer component in our format (docs/transformer-format.md).
--make    write a random paper-size stage to PATH first (12 layers, 16 heads, dim 1024,
          ffDim 4096, GELU, pre-norm LayerNorm, T5 positions (32 buckets, max distance 128),
          causal, vocab 1024 + 3, F32, seeded: about 600 MB; keep it out of the repository).
          Without --model the made file is timed.

For each batch size B: B random prompts of --prompt tokens are prefilled in one call, then
--steps single-token decode calls follow, each feeding the greedy argmax of the previous
logits (the KV-cached forward of test/fixtures/transformer_reference.py, torch.no_grad,
torch.set_num_threads(--threads or os.cpu_count()), and OMP_NUM_THREADS /
OPENBLAS_NUM_THREADS / MKL_NUM_THREADS set to the same before torch is imported, since a
system OpenBLAS keeps its own thread pool; OMP_WAIT_POLICY defaults to PASSIVE so that the
OpenMP and OpenBLAS pools do not spin against each other). Prints one JSON object on stdout,
{"<B>": {"prefill_s": median prefill seconds, "decode_tokens_per_s": B * steps / median decode
seconds}}, medians over --runs after --warmup runs; details go to stderr.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_REF = os.path.join(_HERE, os.pardir, "test", "fixtures", "transformer_reference.py")

PAPER_CONFIG = dict(family="transformer", vocabSize=1024 + 3, dim=1024, layers=12, heads=16,
                    ffDim=4096, ff="gelu", norm="layernorm", prenorm=True, position="t5",
                    t5Buckets=32, t5MaxDistance=128, causal=True, maxPositions=2048)


def load_reference():
    spec = importlib.util.spec_from_file_location("transformer_reference", os.path.abspath(_REF))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_stage(tr, path, seed):
    t0 = time.perf_counter()
    weights = tr.random_weights(PAPER_CONFIG, seed, emb_std=1.0, head_gain=2.0)
    tr.save_safetensors(path, weights,
                        {tr.CONFIG_KEY: json.dumps(PAPER_CONFIG, separators=(",", ":"))})
    n = sum(a.size for a in weights.values())
    print(f"made {path}: {n / 1e6:.1f} M parameters, {os.path.getsize(path) / 1e6:.0f} MB, "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)


def run_once(model, prompts, steps):
    B, P = prompts.shape
    cache = model.new_cache(B, None, capacity=P + steps + 1)
    t0 = time.perf_counter()
    logits = model.forward_cached(prompts, cache)[:, -1]
    nxt = logits.argmax(-1)
    t1 = time.perf_counter()
    for _ in range(steps):
        nxt = model.forward_cached(nxt[:, None], cache)[:, -1].argmax(-1)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def main(argv=None):
    p = argparse.ArgumentParser(description="time the torch reference transformer stage")
    p.add_argument("--model", default=None, help="component .safetensors (our format)")
    p.add_argument("--make", default=None, metavar="PATH", help="write a random paper-size stage")
    p.add_argument("--seed", type=int, default=1234, help="seed for --make and the prompts")
    p.add_argument("--batch", default="1,4,16")
    p.add_argument("--prompt", type=int, default=64)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="default: os.cpu_count()")
    args = p.parse_args(argv)

    threads = args.threads or os.cpu_count()
    # torch here may use a system OpenBLAS with its own thread pool that torch.set_num_threads
    # does not reach: size every pool through the environment before torch is imported.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    # libgomp's spinning workers otherwise steal the cores from OpenBLAS's own pool (on a 2-core
    # box that halved torch's speed); an explicit OMP_WAIT_POLICY in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    global np, torch
    import numpy as np
    import torch

    tr = load_reference()
    if args.make:
        make_stage(tr, args.make, args.seed)
    path = args.model or args.make
    if not path:
        p.error("--model or --make is required")
    torch.set_num_threads(threads)
    model = tr.Transformer.load(path)
    cfg = model.cfg
    if not cfg["causal"] or cfg["inputCodebooks"] != 1:
        p.error("the bench needs a causal stage with one input codebook")
    rng = np.random.default_rng(args.seed)
    result, detail = {}, {}
    with torch.no_grad():
        for B in [int(b) for b in args.batch.split(",") if b]:
            prompts = torch.from_numpy(
                rng.integers(0, cfg["vocabSize"], size=(B, args.prompt)).astype(np.int64))
            for _ in range(args.warmup):
                run_once(model, prompts, min(args.steps, 4))
            pre, dec = [], []
            for _ in range(args.runs):
                a, b = run_once(model, prompts, args.steps)
                pre.append(a)
                dec.append(b)
            result[str(B)] = {"prefill_s": statistics.median(pre),
                              "decode_tokens_per_s": B * args.steps / statistics.median(dec)}
            detail[str(B)] = {"prefill_s": pre, "decode_s": dec}
            print(f"batch {B}: prefill {pre}, decode {dec}", file=sys.stderr)
    print(json.dumps({"threads": threads, "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                      "torch": torch.__version__, "prompt": args.prompt, "steps": args.steps,
                      "model": path, "runs": detail}), file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
