#!/usr/bin/env python3
"""Time suno's Bark generation (PyTorch eager, CPU) for bench/bark.mjs.

Usage:
    /usr/bin/python3 bench/torch_bark.py --make /tmp/bark-small            # once
    /usr/bin/python3 bench/torch_bark.py --dir /tmp/bark-small --inputs /tmp/bark-small/inputs.json \
        [--runs 1] [--warmup 1] [--threads N] [--stages semantic,coarse,fine] [--ref /tmp/bark-ref]

--make DIR  writes text.pt, coarse.pt and fine.pt to DIR in Bark's checkpoint layout
            (torch.save({"model_args", "model"})), Bark small's architecture (12 layers, 12
            heads, width 768, block 1024; semantic vocab 129600 in / 10048 out, coarse 12096,
            fine 1056 with 8 codebooks, 1 given; bias False for the GPTs and True for FineGPT,
            as suno/bark-small's config), built with suno's own GPT / FineGPT classes and their
            default (random, seeded) initialisation; about 1.6 GB, keep it out of the repository.
            The semantic head's EOS row (SEMANTIC_PAD_TOKEN) is zeroed so that greedy decoding
            never stops early and both engines run the same number of steps.

The reference is suno-ai/bark's own bark/generation.py, bark/model.py and bark/model_fine.py,
loaded by path from a checkout (--ref, default $BARK_REF or /tmp/bark-ref; nothing of it is
copied here) with stub modules for encodec / transformers / huggingface_hub / tqdm / funcy, as
test/fixtures/make_bark_generation_fixtures.py does; its module constants are Bark's own. The
models go into generation.py's `models` cache and `_tokenize` returns the given text ids.

Timed (medians over --runs after --warmup runs; torch.set_num_threads(--threads or
os.cpu_count()), OMP/OpenBLAS/MKL thread counts set to the same before torch is imported,
OMP_WAIT_POLICY PASSIVE unless set):
  semantic: generate_text_semantic(temp 0.7, top_k 1, min_eos_p None, use_kv_caching True,
            history_prompt with the input semantic history, max_gen_duration_s set so that it
            stops after exactly `semanticSteps` tokens): the 256 + 256 + 1 merged context is
            prefilled, then one KV-cached step per token; the whole call is timed.
  coarse:   generate_coarse(the input semantic tokens, temp 0.7, top_k 1, use_kv_caching True,
            defaults max_coarse_history 630 / sliding_window_len 60); the whole call is timed.
  fine:     generate_fine(the input coarse codes [2, T], temp None): one pass per codebook 2..7
            over each 1024-frame window (not warmed up: every call is a full window).
Prints one JSON object on stdout: {"threads", "torch", "semantic": {"seconds", "runs_s",
"tokens"}, "coarse": {...}, "fine": {...}}; the tokens are the outputs of the last run.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

SMALL = dict(block_size=1024, n_layer=12, n_head=12, n_embd=768, dropout=0.0)
SEMANTIC_ARGS = dict(SMALL, input_vocab_size=129_600, output_vocab_size=10_048, bias=False)
COARSE_ARGS = dict(SMALL, input_vocab_size=12_096, output_vocab_size=12_096, bias=False)
FINE_ARGS = dict(SMALL, input_vocab_size=1056, output_vocab_size=1056, bias=True, n_codes_total=8, n_codes_given=1)


_FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "test", "fixtures",
                         "make_bark_generation_fixtures.py")


def load_bark(ref):
    """suno's model classes and generation.py with Bark's real constants (the fixture script's loader)."""
    if not os.path.exists(os.path.join(ref, "bark", "generation.py")):
        raise SystemExit(f"no suno-ai/bark checkout at {ref} (bark/generation.py)")
    spec = importlib.util.spec_from_file_location("bark_fixture_loader", os.path.abspath(_FIXTURES))
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    return loader.load_reference(ref)


def make(model_mod, fine_mod, gen, out, seed):
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    for name, args, cls, cfg in (("text.pt", SEMANTIC_ARGS, model_mod.GPT, model_mod.GPTConfig),
                                 ("coarse.pt", COARSE_ARGS, model_mod.GPT, model_mod.GPTConfig),
                                 ("fine.pt", FINE_ARGS, fine_mod.FineGPT, fine_mod.FineGPTConfig)):
        torch.manual_seed(seed)
        seed += 1
        m = cls(cfg(**args))
        if name == "text.pt":
            with torch.no_grad():
                m.lm_head.weight[gen.SEMANTIC_PAD_TOKEN].zero_()  # greedy never picks EOS
        sd = {k: v for k, v in m.state_dict().items() if not k.endswith(".attn.bias")}
        torch.save({"model_args": args, "model": sd}, os.path.join(out, name))
        n = sum(v.numel() for v in sd.values())
        print(f"made {os.path.join(out, name)}: {n / 1e6:.1f} M parameters", file=sys.stderr)
    print(f"--make took {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def load_model(cls, cfg, path):
    ck = torch.load(path, map_location="cpu")
    m = cls(cfg(**ck["model_args"]))
    missing, unexpected = m.load_state_dict(ck["model"], strict=False)
    missing = [k for k in missing if not k.endswith(".attn.bias")]
    if missing or unexpected:
        raise SystemExit(f"{path}: missing {missing}, unexpected {unexpected}")
    m.eval()
    return m


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def main(argv=None):
    p = argparse.ArgumentParser(description="time suno's Bark generation stages (PyTorch eager)")
    p.add_argument("--make", default=None, metavar="DIR", help="write random Bark-small checkpoints to DIR")
    p.add_argument("--dir", default=None, help="directory with text.pt, coarse.pt, fine.pt")
    p.add_argument("--inputs", default=None, help="inputs.json written by bench/bark.mjs")
    p.add_argument("--stages", default="semantic,coarse,fine")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="default: os.cpu_count()")
    p.add_argument("--ref", default=os.environ.get("BARK_REF", "/tmp/bark-ref"))
    args = p.parse_args(argv)

    threads = args.threads or os.cpu_count()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    global np, torch
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    model_mod, fine_mod, gen = load_bark(args.ref)
    if args.make:
        make(model_mod, fine_mod, gen, args.make, args.seed)
    if not args.inputs:
        return
    d = args.dir or args.make
    if not d:
        p.error("--dir or --make is required with --inputs")
    with open(args.inputs) as f:
        inp = json.load(f)
    stages = [s for s in args.stages.split(",") if s]
    result = {"threads": threads, "omp_wait_policy": os.environ["OMP_WAIT_POLICY"], "torch": torch.__version__}

    if "semantic" in stages:
        gen.models["text"] = {"model": load_model(model_mod.GPT, model_mod.GPTConfig, os.path.join(d, "text.pt")), "tokenizer": None}
        text = [int(t) for t in inp["text"]]
        gen._tokenize = lambda tokenizer, s: list(text)
        hist = np.asarray(inp["history"], dtype=np.int64)
        prompt = dict(semantic_prompt=hist, coarse_prompt=np.zeros((2, 1), np.int64), fine_prompt=np.zeros((8, 1), np.int64))
        n = int(inp["semanticSteps"])
        max_s = (n - 0.5) / gen.SEMANTIC_RATE_HZ  # stops right after token n

        def run_semantic(steps_s=max_s):
            return gen.generate_text_semantic("x", history_prompt=prompt, temp=0.7, top_k=1, top_p=None, silent=True,
                                              min_eos_p=None, max_gen_duration_s=steps_s, use_kv_caching=True)

        for _ in range(args.warmup):
            run_semantic(3.5 / gen.SEMANTIC_RATE_HZ)  # 4 tokens
        med, times, out = timed(run_semantic, args.runs, 0)
        if len(out) != n:
            raise SystemExit(f"semantic stopped after {len(out)} of {n} tokens")
        result["semantic"] = {"seconds": med, "runs_s": times, "tokens": [int(x) for x in out]}
        print(f"semantic: {times}", file=sys.stderr)
        del gen.models["text"]

    if "coarse" in stages:
        gen.models["coarse"] = load_model(model_mod.GPT, model_mod.GPTConfig, os.path.join(d, "coarse.pt"))
        sem = np.asarray(inp["semantic"], dtype=np.int64)
        run = lambda: gen.generate_coarse(sem, temp=0.7, top_k=1, top_p=None, silent=True, use_kv_caching=True)
        if args.warmup:
            gen.generate_coarse(sem[:4], temp=0.7, top_k=1, silent=True, use_kv_caching=True)
        med, times, out = timed(run, args.runs, 0)
        result["coarse"] = {"seconds": med, "runs_s": times, "tokens": int(out.size), "codes": np.asarray(out).astype(int).tolist()}
        print(f"coarse: {times}", file=sys.stderr)
        del gen.models["coarse"]

    if "fine" in stages:
        gen.models["fine"] = load_model(fine_mod.FineGPT, fine_mod.FineGPTConfig, os.path.join(d, "fine.pt"))
        co = np.asarray(inp["coarse"], dtype=np.int32)
        # no warm-up: one pass is a full 1024-frame window whatever the input length
        med, times, out = timed(lambda: gen.generate_fine(co, temp=None, silent=True), args.runs, 0)
        result["fine"] = {"seconds": med, "runs_s": times, "frames": int(co.shape[1]), "codes": np.asarray(out).astype(int).tolist()}
        print(f"fine: {times}", file=sys.stderr)
        del gen.models["fine"]

    print(json.dumps(result))


if __name__ == "__main__":
    main()
