#!/usr/bin/env python3
"""Trains the three transformer stages of the shipped model on the corpus's tokens, with the
engine's own PyTorch reference of the stage format (test/fixtures/transformer_reference.py), so
the exported component is exactly what was trained.

    semantic  causal LM over [BOS, s0, s1, ...] (K MFCC k-means tokens, 50 Hz), window 250
    coarse    causal LM over [BOS, s(a0..a1), SEP, a(f,0), a(f,1), a(f,2), ...] for windows of 100
              frames: the first 3 RVQ levels given the semantic tokens of the same span
    fine      non-causal (Bark style): levels 0..l-1 of a 100-frame window in, level l out
              (one head per fine level, l = 3..7)
Widths and depths: SIZES below (the bundle must stay under 30 MB).

Token layouts are the ones docs/model-format.md defines (the pipeline builds the same sequences).

    /usr/bin/python3 training/stages.py train --stage semantic --minutes 30 --seed 1
    /usr/bin/python3 training/stages.py export --stage semantic --out models/default/semantic.safetensors
    /usr/bin/python3 training/stages.py eval --stage semantic --model models/default/semantic.safetensors
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import common

tref = common.tref

K, C, QC, Q = 256, 1024, 3, 8
SEM_WINDOW = 250
COARSE_FRAMES = 100
FINE_FRAMES = 100
# vocabularies (docs/model-format.md)
SEM = dict(offset=0, eos=K, bos=K + 1)
COARSE = dict(semanticOffset=0, acousticOffset=K, sep=K + QC * C, bos=K + QC * C + 1)


# Sizes keep the bundle under 30 MB in F16: semantic 4 x 256, coarse 3 x 256, fine 3 x 128.
SIZES = {"semantic": (256, 4), "coarse": (256, 3), "fine": (128, 3)}


def stage_config(stage, heads=4, layers=None):
    dim, default_layers = SIZES[stage]
    layers = layers or default_layers
    base = dict(family="transformer", dim=dim, layers=layers, heads=heads, ffDim=4 * dim, ff="gelu", norm="layernorm",
                prenorm=True, position="t5", t5Buckets=32, t5MaxDistance=128)
    if stage == "semantic":
        return dict(base, vocabSize=K + 2, outputSize=K, causal=True)
    if stage == "coarse":
        # finer relative positions far back: the semantic tokens of a window sit up to 400 positions away
        return dict(base, vocabSize=COARSE["bos"] + 1, outputSize=COARSE["sep"], causal=True, t5Buckets=64, t5MaxDistance=1024)
    return dict(base, vocabSize=C, outputSize=C, causal=False, inputCodebooks=Q, outputHeads=Q - QC)


class Tokens(list):
    """[(semantic tokens [S], codes [Q, T] or None)] of some utterances, with `voices`: lists of
    indices into it that share one voice (a speaker whose pitch and speed are fixed; the "extra"
    split draws them per utterance, so its utterances are in none), and `shifted`: per utterance,
    the semantic tokens of a pitch-shifted copy (shifted_tokens.py) or None."""
    voices = ()
    shifted = ()


def load_tokens(args, split):
    """The Tokens of the utterances of `split` (names joined by commas for several)."""
    man = common.load_manifest(args.data)
    sem = np.load(args.semantic)
    codes = np.load(args.codes) if os.path.exists(args.codes) else None
    splits = set(split.split(","))
    shifted_path = os.path.join(os.path.dirname(args.semantic), "tokens-shifted.npz")
    shifted = np.load(shifted_path) if os.path.exists(shifted_path) else {}
    out, by_voice = Tokens(), {}
    out.shifted = []
    for u in man["utterances"]:
        if u["split"] in splits:
            if "voice" not in u:
                by_voice.setdefault(u["speaker"], []).append(len(out))
            out.append((sem[u["id"]].astype(np.int64), None if codes is None else codes[u["id"]].astype(np.int64)))
            out.shifted.append(shifted[u["id"]].astype(np.int64) if u["id"] in shifted else None)
    if getattr(args, "pitch_voices", None) and "heldout" not in splits:
        for k, folder in enumerate(args.pitch_voices.split(",")):
            add_pitch_voices(out, by_voice, folder, sem, man, splits, f"p{k or ''}")
    out.voices = [v for v in by_voice.values() if len(v) > 1]
    return out


def add_pitch_voices(out, by_voice, folder, sem, man, splits, suffix="p"):
    """Appends the pitch-shifted copies of pitch_voices.py (training speakers only): each speaker's
    copy is a voice group of its own (named with `suffix`), and its content tokens when shifted are
    the original's."""
    codes, tokens = np.load(os.path.join(folder, "codes.npz")), np.load(os.path.join(folder, "tokens.npz"))
    for u in man["utterances"]:
        if u["split"] in splits and u["id"] in codes.files:
            by_voice.setdefault(u["speaker"] + suffix, []).append(len(out))
            out.append((tokens[u["id"]].astype(np.int64), codes[u["id"]].astype(np.int64)))
            out.shifted.append(sem[u["id"]].astype(np.int64))


def coarse_ids(c):
    """Coarse vocabulary ids of codes [QC+, n], frame-major ([frames * QC])."""
    return (c[:QC] + K + np.arange(QC)[:, None] * C).T.reshape(-1)


def content_tokens(data, i, rng, shifted):
    """Utterance i's semantic tokens, or with probability `shifted` its pitch-shifted copy's."""
    if shifted > 0 and data.shifted[i] is not None and rng.random() < shifted:
        return data.shifted[i]
    return data[i][0]


def cross_window(data, rng, n, shifted=0.0):
    """A coarse window whose acoustic history is another utterance of the same voice: h frames from
    the end of a random span of utterance B, then n - h frames of utterance A with their semantic
    tokens (see content_tokens), as in acoustic mode, where the voice prompt and the content come
    from different speech."""
    group = data.voices[int(rng.integers(len(data.voices)))]
    ia, ib = rng.choice(group, 2, replace=False)
    (_, c), (_, cb) = data[int(ia)], data[int(ib)]
    s = content_tokens(data, int(ia), rng, shifted)
    h = int(rng.integers(n // 4, n // 2 + 1))
    T = min(c.shape[1], len(s))
    m = min(T, n - h)
    a = int(rng.integers(0, T - m + 1))
    b = int(rng.integers(0, cb.shape[1] - h + 1)) if cb.shape[1] >= h else 0
    hist = cb[:, b: b + h]
    return s[a: a + m], np.concatenate([coarse_ids(hist), coarse_ids(c[:, a: a + m])])


def coarse_row(sem, ac):
    """(inputs, targets) of a coarse window: BOS, semantic tokens, SEP, acoustic ids; no loss on the
    semantic conditioning (nor on SEP)."""
    seq = np.concatenate([[COARSE["bos"]], sem, [COARSE["sep"]], ac])
    x, y = seq[:-1], seq[1:].copy()
    y[: len(sem) + 1] = -100
    return x, y


def continuation_tokens(data, i, rng, a, n):
    """Semantic tokens of frames a..a+n of utterance i whose later part, from a random frame in
    [n/4, n), comes from the pitch-shifted copy (None where the copy is missing or too short): in
    continuation the window's newer semantic tokens are generated, and MFCC tokens carry part of a
    voice, so they may point to another voice than the acoustic history's."""
    sh = data.shifted[i]
    m = int(rng.integers(n // 4, n))
    if sh is None or len(sh) < a + n:
        return None
    return np.concatenate([data[i][0][a: a + m], sh[a + m: a + n]])


def anchored_window(s, c, rng, n):
    """A coarse window as generation anchors it (model.json coarse.window.anchor): the utterance's
    first h frames without semantic tokens, then frames [a + h, a + n) for some a > 0 with theirs;
    None where the utterance is too short to leave a gap."""
    T = min(c.shape[1], len(s))
    if T <= n:
        return None
    h = int(rng.integers(n // 4, n // 2 + 1))
    a = int(rng.integers(1, T - n + 1))
    return s[a + h: a + n], np.concatenate([coarse_ids(c[:, :h]), coarse_ids(c[:, a + h: a + n])])


def make_batch(stage, data, rng, batch, frames=None, cross=0.0, shifted=0.0, shifted_continuation=0.0, anchored=0.0):
    """(inputs, targets, fine level) — targets -100 where no loss is taken. `frames`: the coarse or
    fine window (default COARSE_FRAMES / FINE_FRAMES); `cross`: the share of coarse windows made by
    cross_window (data.voices must not be empty); `shifted`: the share of coarse windows with
    acoustic history but no semantic tokens for it whose semantic tokens come from a pitch-shifted
    copy of the speech (content_tokens); `shifted_continuation`: the share of the other coarse windows
    whose later semantic tokens come from such a copy (continuation_tokens); `anchored`: the share of
    coarse windows made by anchored_window (before cross windows are drawn)."""
    rows, tgts, level = [], [], None
    if stage == "fine":
        level = int(rng.integers(QC, Q))
    for _ in range(batch):
        i = int(rng.integers(len(data)))
        s, c = data[i]
        win = anchored_window(s, c, rng, frames or COARSE_FRAMES) if stage == "coarse" and anchored > 0 and rng.random() < anchored else None
        if win is not None:
            x, y = coarse_row(*win)
            rows.append(x)
            tgts.append(y)
        elif stage == "coarse" and cross > 0 and rng.random() < cross:
            x, y = coarse_row(*cross_window(data, rng, frames or COARSE_FRAMES, shifted))
            rows.append(x)
            tgts.append(y)
        elif stage == "semantic":
            n = min(len(s), SEM_WINDOW + 1)
            a = int(rng.integers(0, len(s) - n + 1))
            seq = np.concatenate([[SEM["bos"]], s[a: a + n]])
            x, y = seq[:-1], seq[1:].copy()
            rows.append(x)
            tgts.append(y)
        elif stage == "coarse":
            T = min(c.shape[1], len(s))
            n = min(T, frames or COARSE_FRAMES)
            a = int(rng.integers(0, T - n + 1))
            ac = coarse_ids(c[:, a: a + n])
            # A quarter of the windows start with acoustic history that has no semantic tokens, as
            # in acoustic mode (speaker conversion), where the voice prompt precedes the content.
            h = int(rng.integers(1, n // 2 + 1)) if n > 2 and rng.random() < 0.25 else 0
            sem = (content_tokens(data, i, rng, shifted) if h else s)[a + h: a + n]
            if not h and shifted_continuation > 0 and rng.random() < shifted_continuation:
                alt = continuation_tokens(data, i, rng, a, n)
                sem = sem if alt is None else alt
            x, y = coarse_row(sem, ac)
            rows.append(x)
            tgts.append(y)
        else:
            T = c.shape[1]
            n = min(T, frames or FINE_FRAMES)
            a = int(rng.integers(0, T - n + 1))
            win = c[:, a: a + n].T.copy()  # [frames, Q]
            y = win[:, level].copy()
            win[:, level:] = -1
            rows.append(win)
            tgts.append(y)
    L = max(len(r) for r in rows)
    if stage == "fine":
        X = np.full((batch, L, Q), -1, np.int64)
    else:
        X = np.zeros((batch, L), np.int64)
    Y = np.full((batch, L), -100, np.int64)
    for i, (r, t) in enumerate(zip(rows, tgts)):
        X[i, : len(r)] = r
        Y[i, : len(t)] = t
    return torch.from_numpy(X), torch.from_numpy(Y), level


def forward(model, x, level=None, dropout=0.0):
    """Training forward of the reference model (its own forward() runs under no_grad). `dropout`
    acts on the residual stream after the embedding and after each block (training only)."""
    T = x.shape[1]
    pos = torch.arange(T, device=x.device)
    h = F.dropout(model.embed(x, 0), dropout, training=dropout > 0)
    for i in range(model.cfg["layers"]):
        h = F.dropout(model.block(h, i, pos), dropout, training=dropout > 0)
    return model.logits(h, 0 if level is None else level - QC)


def masked_nll(model, x, y, level):
    """Summed negative log-likelihood of the targets that take a loss (y >= 0), their count and mask."""
    logits = forward(model, x, level)
    mask = y >= 0
    return F.cross_entropy(logits[mask], y[mask], reduction="sum").item(), int(mask.sum()), mask


def new_model(stage, seed, device="cpu", layers=None):
    cfg = stage_config(stage, layers=layers)
    w = tref.random_weights(cfg, seed, emb_std=0.02 * math.sqrt(cfg["dim"]) / 4, gain=1.0, qk_gain=1.0, head_gain=0.5,
                            bias_std=0.0, norm_noise=0.0, rel_std=0.02)
    weights = {k: torch.from_numpy(v).to(device).requires_grad_(True) for k, v in w.items()}
    return tref.Transformer(cfg, weights)


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.set_default_device(dev)  # the reference model makes its position tensors with the defaults
        torch.backends.cuda.matmul.allow_tf32 = True
    rng = np.random.default_rng(args.seed)
    data = load_tokens(args, args.splits)
    held = load_tokens(args, "heldout")
    hrng = np.random.default_rng(1234)
    # fixed held-out probes for the log: plain windows, and cross-utterance ones when they are trained
    held_batches = [make_batch(args.stage, held, hrng, 16, args.frames) for _ in range(8)]
    cross_batches = [make_batch(args.stage, held, hrng, 16, args.frames, cross=1.0) for _ in range(8)] if args.cross_history else []
    anchored_batches = [make_batch(args.stage, held, hrng, 16, args.frames, anchored=1.0) for _ in range(8)] if args.anchored else []
    if args.shifted_semantic or args.shifted_continuation:
        if not any(t is not None for t in data.shifted):
            raise SystemExit("--shifted-semantic and --shifted-continuation need tokens-shifted.npz beside the semantic tokens (training/shifted_tokens.py)")
        # held-out speech has no shifted copy: the log's probe stays the plain and cross windows
    print(f"{len(data)} training utterances ({args.splits}), device {dev}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    ck_path = os.path.join(args.out, f"{args.stage}.pt")
    if args.init:  # fine-tuning: the weights (and so the size) of an exported component
        model = tref.Transformer.load(args.init)
        model.w = {k: v.float().to(dev).requires_grad_(True) for k, v in model.w.items()}
    else:
        model = new_model(args.stage, args.seed, dev, args.layers)
    params = list(model.w.values())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    step, spent = 0, 0.0
    if os.path.exists(ck_path) and not args.fresh:
        ck = torch.load(ck_path, map_location=dev)
        with torch.no_grad():
            for k, v in ck["weights"].items():
                model.w[k].copy_(v)
        opt.load_state_dict(ck["opt"])
        step, spent = ck["step"], ck["seconds"]
    t0 = time.time() - spent
    run_facts = {"batch": args.batch, "lr": args.lr, "dropout": args.dropout, "splits": args.splits,
                 "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                 "frames": args.frames or (COARSE_FRAMES if args.stage == "coarse" else FINE_FRAMES),
                 "crossHistory": args.cross_history, "shiftedSemantic": args.shifted_semantic,
                 "shiftedContinuation": args.shifted_continuation, "anchored": args.anchored, "init": args.init,
                 "pitchVoices": args.pitch_voices}
    budget = args.minutes * 60
    log = open(os.path.join(args.out, f"{args.stage}.log.txt"), "a")
    avg = None

    def save():
        tmp = ck_path + ".tmp"  # written aside and renamed: a reader never sees half a checkpoint
        torch.save({"weights": {k: v.detach().cpu() for k, v in model.w.items()}, "opt": opt.state_dict(), "step": step,
                    "seconds": time.time() - t0, "config": model.raw_config, "run": run_facts}, tmp)
        os.replace(tmp, ck_path)

    @torch.no_grad()
    def held_out_loss(batches):
        sums = [masked_nll(model, x.to(dev), y.to(dev), level)[:2] for x, y, level in batches]
        return sum(s for s, _ in sums) / sum(n for _, n in sums)

    def probe():
        return f"held-out loss {held_out_loss(held_batches):.3f}" + (
            f", cross-utterance {held_out_loss(cross_batches):.3f}" if cross_batches else "") + (
            f", anchored {held_out_loss(anchored_batches):.3f}" if anchored_batches else "")

    def say(line):
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    while (step < args.steps) if args.steps else (time.time() - t0 < budget):
        frac = step / args.steps if args.steps else (time.time() - t0) / budget
        lr = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y, level = make_batch(args.stage, data, rng, args.batch, args.frames, args.cross_history, args.shifted_semantic,
                                 args.shifted_continuation, args.anchored)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        logits = forward(model, x, level, args.dropout)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 20 == 0:
            say(f"step {step} {(time.time() - t0) / 60:.1f} min lr {lr:.2e} loss {avg:.3f} (ppl {math.exp(avg):.1f})")
        if step == 1 or step % args.eval_every == 0:
            say(f"step {step} {probe()}")
        if step % args.save_every == 0:
            save()
    save()
    say(f"step {step} {probe()}")
    print(f"done: {step} steps, {(time.time() - t0) / 60:.1f} min", flush=True)


def write_component(checkpoint, out, f16):
    """A training checkpoint → the engine's stage component (config in the metadata)."""
    ck = torch.load(checkpoint, map_location="cpu")
    tensors = {k: v.numpy().astype(np.float16 if f16 else np.float32) for k, v in ck["weights"].items()}
    common.save_safetensors(out, tensors, {common.CONFIG_KEY: json.dumps(ck["config"])})
    return ck


def lineage(facts):
    """A run's facts with those of the runs before it: where it started from an exported component
    (--init) whose .train.json is still there, that component's facts, with this run appended to
    their fineTunes."""
    prior = facts.get("init") and os.path.splitext(facts["init"])[0] + ".train.json"
    if not prior or not os.path.exists(prior):
        return facts
    with open(prior) as f:
        base = lineage(json.load(f))
    base["fineTunes"] = base.get("fineTunes", []) + [facts]
    return base


def export(args):
    ck = write_component(os.path.join(args.runs, f"{args.stage}.pt"), args.out, args.f16)
    # what the training took, beside the component (training/card.py reads it when the checkpoint
    # itself stayed on the machine that trained it), after the facts of the runs it fine-tuned
    facts = lineage({"step": ck["step"], "seconds": ck["seconds"], **ck.get("run", {})})
    with open(os.path.splitext(args.out)[0] + ".train.json", "w") as f:
        json.dump(facts, f)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB, step {ck['step']}, {ck['seconds'] / 60:.1f} min)")


@torch.no_grad()
def evaluate(args):
    """Held-out perplexity of the exported stage beside a unigram model of the training tokens."""
    torch.set_num_threads(args.threads)
    model = tref.Transformer.load(args.model)
    rng = np.random.default_rng(1234)
    held = load_tokens(args, "heldout")
    train_data = load_tokens(args, args.splits)
    nll, n, uni_nll = 0.0, 0, 0.0
    # unigram over each stage's predicted symbols, from the training split (add-one smoothing)
    if args.stage == "semantic":
        counts = np.bincount(np.concatenate([s for s, _ in train_data]), minlength=K)
    else:  # per RVQ level
        counts = [sum(np.bincount(c[l], minlength=C) for _, c in train_data) for l in range(QC if args.stage == "coarse" else Q)]
    logp = (lambda cnt: np.log((cnt + 1) / (cnt + 1).sum()))
    for it in range(args.eval_batches):
        x, y, level = make_batch(args.stage, held, rng, 8, args.frames, args.cross_history)
        s, m, mask = masked_nll(model, x, y, level)
        nll += s
        n += m
        yy = y[mask].numpy()
        if args.stage == "semantic":
            uni_nll -= logp(counts)[yy].sum()
        elif args.stage == "coarse":
            lv = (yy - K) // C
            uni_nll -= sum(logp(counts[l])[(yy[lv == l] - K) % C].sum() for l in range(QC))
        else:
            uni_nll -= logp(counts[level])[yy].sum()
    res = {"stage": args.stage, "tokens": n, "perplexity": math.exp(nll / n), "unigramPerplexity": math.exp(uni_nll / n)}
    print(json.dumps(res))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["train", "export", "eval"])
    ap.add_argument("--stage", choices=["semantic", "coarse", "fine"], required=True)
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--semantic", default="training/runs/semantic/tokens.npz")
    ap.add_argument("--codes", default="training/runs/codes.npz")
    ap.add_argument("--runs", default="training/runs/stages")
    ap.add_argument("--out", default="training/runs/stages")
    ap.add_argument("--model")
    ap.add_argument("--minutes", type=float, default=30, help="wall-clock budget (the LR schedule follows it)")
    ap.add_argument("--steps", type=int, default=0, help="a fixed number of steps instead of --minutes (to remake a run)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--f16", action="store_true")
    ap.add_argument("--eval-batches", type=int, default=20)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--splits", default="train,extra", help="the corpus splits to train on")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--layers", type=int, help="depth instead of SIZES's (the checkpoint keeps its config)")
    ap.add_argument("--init", help="start from this exported component's weights and config (fine-tuning)")
    ap.add_argument("--frames", type=int, help="coarse or fine window in frames instead of 100 (bundle.py reads it from the "
                    "exported component's .train.json)")
    ap.add_argument("--cross-history", type=float, default=0.0,
                    help="share of coarse windows whose acoustic history is another utterance of the same voice")
    ap.add_argument("--shifted-semantic", type=float, default=0.0,
                    help="share of acoustic-mode and cross windows whose content tokens are those of a pitch-shifted copy")
    ap.add_argument("--shifted-continuation", type=float, default=0.0,
                    help="share of the other coarse windows whose semantic tokens after a random frame come from a pitch-shifted copy")
    ap.add_argument("--anchored", type=float, default=0.0,
                    help="share of coarse windows whose history starts with the utterance's first frames, as generation's "
                         "coarse.window.anchor makes them")
    ap.add_argument("--pitch-voices", help="pitch_voices.py folders, joined by commas: their shifted copies of the training speakers join the training data")
    ap.add_argument("--eval-every", type=int, default=1000, help="steps between held-out probes in the log")
    ap.add_argument("--save-every", type=int, default=200)
    args = ap.parse_args()
    {"train": train, "export": export, "eval": evaluate}[args.cmd](args)


if __name__ == "__main__":
    main()
