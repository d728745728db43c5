#!/usr/bin/env python3
"""The shipped model's figures, on held-out speakers reading held-out sentences (training/data
manifest) and on the real recorded speech of alsa-utils (/usr/share/sounds/alsa/*.wav). Every
waveform is produced by the engine (dist/, through training/codec-eval.mjs and
training/generate-eval.mjs), not by the training code.

    /usr/bin/python3 training/evaluate.py --model models/default --out training/runs/eval

1. Codec: SI-SNR and log-mel distance of reconstructions, beside Opus (libopus through ffmpeg,
   VoIP mode, 6 kbps: the lowest rate libopus takes; the codec runs at 4 kbps) on the same clips.
2. Stages: held-out perplexity beside a unigram model of the training tokens (training/stages.py eval).
3. Voice: median F0 (training/f0.py, YIN, threshold 0.25) of 3 s continuations of 3 s prompts, and of speaker conversions
   (another held-out speaker's words in the prompt's voice), against the prompt's; within 15 % counts.
Writes OUT/results.json and prints a Markdown summary.
"""
import argparse
import glob
import json
import os
import subprocess
import tempfile

import numpy as np
import torch

import common
import f0 as f0mod

ROOT = common.ROOT


def align(ref, est, max_lag=800):
    """est shifted by the lag (|lag| ≤ max_lag) that best correlates it with ref; both cut to one length."""
    n = min(len(ref), len(est))
    r, e = ref[:n], est[:n]
    c = np.fft.irfft(np.fft.rfft(r, 2 * n) * np.conj(np.fft.rfft(e, 2 * n)), 2 * n)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    lag = lags[np.argmax(c[lags])]
    e = np.roll(e, lag)
    lo, hi = max(0, lag), n + min(0, lag)
    return r[lo:hi], e[lo:hi]


def si_snr(ref, est):
    ref, est = align(ref, est)
    ref, est = ref - ref.mean(), est - est.mean()
    s = (est @ ref) / (ref @ ref) * ref
    return 10 * np.log10((s @ s) / max(((est - s) @ (est - s)), 1e-12))


def mel_distance(ref, est):
    """Mean |ln mel| difference, 80 HTK mel bands 0-8 kHz, 1024-point STFT, hop 256, floor 1e-5."""
    n = min(len(ref), len(est))
    a = common.log_mel(torch.from_numpy(ref[:n].astype(np.float32))[None], 1024, 256, 80)
    b = common.log_mel(torch.from_numpy(est[:n].astype(np.float32))[None], 1024, 256, 80)
    return float((a - b).abs().mean())


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def codec_eval(model, clips, tmp):
    pairs = [[src, os.path.join(tmp, f"rec{i}.wav")] for i, (_, src) in enumerate(clips)]
    with open(os.path.join(tmp, "pairs.json"), "w") as f:
        json.dump(pairs, f)
    run(["node", os.path.join(ROOT, "training", "codec-eval.mjs"), os.path.join(model, "codec.safetensors"), os.path.join(tmp, "pairs.json")])
    rows = []
    for i, ((name, src), (_, rec)) in enumerate(zip(clips, pairs)):
        x, _ = common.read_wav(src)
        y, _ = common.read_wav(rec)
        op = os.path.join(tmp, f"op{i}.ogg")
        opw = os.path.join(tmp, f"op{i}.wav")
        run(["ffmpeg", "-y", "-i", src, "-c:a", "libopus", "-b:a", "6000", "-application", "voip", op])
        run(["ffmpeg", "-y", "-i", op, "-ar", "16000", "-ac", "1", "-c:a", "pcm_f32le", opw])
        z, _ = common.read_wav(opw)
        dur = len(x) / 16000
        rows.append({"clip": name, "seconds": dur, "codec": {"siSnr": si_snr(x, y), "melDistance": mel_distance(x, y)},
                     "opus": {"siSnr": si_snr(x, z), "melDistance": mel_distance(x, z), "kbps": os.path.getsize(op) * 8 / dur / 1000}})
    return rows


def summarize_codec(rows):
    out = {}
    for sys_ in ("codec", "opus"):
        out[sys_] = {k: float(np.mean([r[sys_][k] for r in rows])) for k in ("siSnr", "melDistance")}
    out["opus"]["kbps"] = float(np.mean([r["opus"]["kbps"] for r in rows]))
    out["clips"] = len(rows)
    return out


def voice_prompts(args, held, tmp):
    """Every held-out prompt (its first prompt_seconds) and, for speaker conversion, the content: the
    start of another held-out speaker's utterance. Written to tmp once, with the F0s they are judged by."""
    by_sp = {}
    for u, w in held:
        by_sp.setdefault(u["speaker"], []).append((u, w))
    sp_ids = sorted(by_sp)
    P, S = int(args.prompt_seconds * 16000), int(args.seconds * 16000)
    out = []
    for si, sp in enumerate(sp_ids):
        other = sp_ids[(si + 3) % len(sp_ids)]  # content from another held-out speaker
        for k, (u, w) in enumerate(by_sp[sp][: args.per_speaker]):
            if len(w) < P + S:
                continue
            pp = os.path.join(tmp, f"p_{u['id']}.wav")
            common.write_wav(pp, w[:P])
            cw = by_sp[other][k % len(by_sp[other])][1][:S]
            cp = os.path.join(tmp, f"c_{u['id']}.wav")
            common.write_wav(cp, cw)
            out.append({"id": u["id"], "speaker": sp, "contentSpeaker": other, "prompt": pp, "content": cp,
                        "promptF0": f0mod.median_f0(w[:P]), "trueContinuationF0": f0mod.median_f0(w[P: P + S]),
                        "contentF0": f0mod.median_f0(cw)})
    return out


def voice(args, prompts, base_seed, tmp):
    """3 s continuations and speaker conversions of every held-out prompt, made by the engine with
    sampling seeds from base_seed; median F0 of each beside the prompt's."""
    jobs = []
    sampling = json.loads(args.sampling)
    for q in prompts:
        seed = base_seed + len(jobs)
        jobs.append({"out": os.path.join(tmp, f"g_{q['id']}.wav"), "prompt": q["prompt"], "seconds": args.seconds, "seed": seed, **sampling})
        jobs.append({"out": os.path.join(tmp, f"v_{q['id']}.wav"), "prompt": q["prompt"], "content": q["content"], "mode": "acoustic",
                     "seed": seed + 1, **sampling})
    with open(os.path.join(tmp, "jobs.json"), "w") as f:
        json.dump(jobs, f)
    speed = subprocess.run(["node", os.path.join(ROOT, "training", "generate-eval.mjs"), args.model, os.path.join(tmp, "jobs.json")],
                           check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    rows = []
    for q in prompts:
        r = {k: q[k] for k in ("id", "speaker", "contentSpeaker", "promptF0", "trueContinuationF0")}
        r["continuationF0"] = f0mod.median_f0(common.read_wav(os.path.join(tmp, f"g_{q['id']}.wav"))[0])
        r["conversionF0"] = f0mod.median_f0(common.read_wav(os.path.join(tmp, f"v_{q['id']}.wav"))[0])
        r["contentF0"] = q["contentF0"]
        rows.append(r)
    ok = f0mod.within
    per = {}
    for r in rows:
        d = per.setdefault(r["speaker"], {"promptF0": [], "continuation": 0, "conversion": 0, "truth": 0, "n": 0})
        d["promptF0"].append(r["promptF0"])
        d["continuation"] += ok(r["continuationF0"], r["promptF0"])
        d["conversion"] += ok(r["conversionF0"], r["promptF0"])
        d["truth"] += ok(r["trueContinuationF0"], r["promptF0"])
        d["n"] += 1
    for d in per.values():
        d["promptF0"] = float(np.nanmedian(d["promptF0"]))
    n = len(rows)
    return {
        "prompts": n,
        "continuationWithin15": sum(ok(r["continuationF0"], r["promptF0"]) for r in rows) / n,
        "conversionWithin15": sum(ok(r["conversionF0"], r["promptF0"]) for r in rows) / n,
        "conversionWithin15OfContentVoice": sum(ok(r["conversionF0"], r["contentF0"]) for r in rows) / n,
        "trueContinuationWithin15": sum(ok(r["trueContinuationF0"], r["promptF0"]) for r in rows) / n,
        "perSpeaker": per, "rows": rows, "generation": json.loads(speed)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--out", default="training/runs/eval")
    ap.add_argument("--prompt-seconds", type=float, default=3.0)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--per-speaker", type=int, default=8)
    ap.add_argument("--sampling", default="{}", help='per-stage sampling for the voice jobs, e.g. {"coarse": {"temperature": 0.5}}')
    ap.add_argument("--seed", type=int, default=1000, help="sampling seed of the first voice job (then +1 per job)")
    ap.add_argument("--extra-seeds", default="", help="comma list of further base seeds: the voice figures again, summarised")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: codec,perplexity,voice")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    os.makedirs(args.out, exist_ok=True)
    res_path = os.path.join(args.out, "results.json")
    results = json.load(open(res_path)) if os.path.exists(res_path) else {}
    held = common.load_split(args.data, "heldout")
    with tempfile.TemporaryDirectory() as tmp:
        if "codec" not in skip:
            clips = [(u["id"], os.path.join(args.data, u["path"])) for u, _ in held]
            syn = codec_eval(args.model, clips, tmp)
            alsa = []
            for p in sorted(glob.glob("/usr/share/sounds/alsa/*.wav")):
                if "Noise" in p:
                    continue
                dst = os.path.join(tmp, "alsa_" + os.path.basename(p))
                run(["sox", p, "-r", "16000", "-c", "1", "-b", "16", dst])
                alsa.append((os.path.basename(p), dst))
            real = codec_eval(args.model, alsa, tmp) if alsa else []
            results["codec"] = {"heldout": summarize_codec(syn), "alsa": summarize_codec(real) if real else None,
                                "clips": syn + real}
        if "perplexity" not in skip:
            results["perplexity"] = {}
            for st in ("semantic", "coarse", "fine"):
                out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "training", "stages.py"), "eval", "--stage", st, "--data", args.data,
                                      "--semantic", os.path.join(ROOT, "training/runs/semantic/tokens.npz"),
                                      "--codes", os.path.join(ROOT, "training/runs/codes.npz"),
                                      "--model", os.path.join(args.model, f"{st}.safetensors"), "--threads", "2", "--eval-batches", "30"],
                                     check=True, capture_output=True, text=True).stdout
                results["perplexity"][st] = json.loads(out.strip().splitlines()[-1])
        if "voice" not in skip:
            prompts = voice_prompts(args, held, tmp)
            results["voice"] = voice(args, prompts, args.seed, tmp)
            if args.extra_seeds:
                results["voice"]["otherSeeds"] = []
                for sd in map(int, args.extra_seeds.split(",")):
                    r = voice(args, prompts, sd, tmp)
                    results["voice"]["otherSeeds"].append({"seed": sd, **{k: r[k] for k in (
                        "continuationWithin15", "conversionWithin15", "conversionWithin15OfContentVoice")},
                        **{k + "F0": [x[k + "F0"] for x in r["rows"]] for k in ("continuation", "conversion")}})
    with open(res_path, "w") as f:
        json.dump(results, f, indent=1)
    summary = {}
    if "codec" in results:
        summary["codec"] = {k: results["codec"][k] for k in ("heldout", "alsa")}
    if "perplexity" in results:
        summary["perplexity"] = results["perplexity"]
    if "voice" in results:
        summary["voice"] = {k: v for k, v in results["voice"].items() if k != "rows"}
    print(json.dumps(summary, indent=1))

if __name__ == "__main__":
    main()
