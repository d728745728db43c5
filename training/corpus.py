#!/usr/bin/env python3
"""Builds the speech corpus of the shipped model from Debian's synthesisers.

Speakers are espeak-ng voices (accent x variant x pitch x speed) and flite voices (voice x target
F0 x stretch); they read sentences taken from the `fortunes` package (/usr/share/games/fortunes).
Every utterance is 2-3 sentences by one speaker, resampled to 16 kHz mono int16.

Split: a fixed set of held-out speakers (low and high voices of both synthesisers) reads only
held-out sentences; training speakers read only training sentences. Nothing held out is ever seen
by the codec, the k-means or the stages.

A third split, "extra", is more training speech for the stages only (the codec and the k-means are
fitted on "train"): training sentences read by the training speakers' voices with the pitch drawn
again for every utterance (espeak-ng: pitch 5-95, speed 130-195; flite: the speaker's F0 target
+-10 %), so that the acoustic stages must take the voice from the acoustic history rather than
from a small set of speakers they could memorise.

    /usr/bin/python3 training/corpus.py --out training/data [--seed 1234] [--train-seconds 9000] [--extra-seconds 36000]

Writes OUT/wav/<split>/<id>.wav and OUT/manifest.json (utterances, speakers, split, durations).
Needs: espeak-ng, flite, sox (apt-get install espeak-ng flite sox fortunes).
"""
import argparse
import json
import os
import random
import re
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor

FORTUNE_DIR = "/usr/share/games/fortunes"
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
VARIANTS = ["male1", "male2", "male3", "male4", "male5", "male6", "male7", "male8", "female1", "female2", "female3",
            "female4", "female5", "Adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "Antonio", "Auntie", "Belinda",
            "Benjamin", "Boris", "Caleb", "David", "Ed", "Edward", "Gene", "Hugo", "Jacky", "John", "Lee", "Linda",
            "Marco", "Max", "Michael", "Mike", "Paul", "Pedro", "Quincy", "Rob", "Robert", "Steph", "Storm", "Zac",
            "anika", "grandma", "grandpa", "norbert", "shelby", "travis", "victor"]
FLITE_VOICES = ["slt", "rms", "awb", "kal16"]


def sentences(seed):
    """Sentences of 25-160 plain characters from the fortune files, deduplicated, shuffled."""
    out = set()
    for name in sorted(os.listdir(FORTUNE_DIR)):
        path = os.path.join(FORTUNE_DIR, name)
        if "." in name or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for entry in text.split("\n%\n"):
            if re.search(r"^\s*(--|\t\t)", entry, re.M):  # drop attributions
                entry = re.split(r"\n\s*(--|\t\t)", entry)[0]
            flat = re.sub(r"\s+", " ", entry).strip()
            for s in re.split(r"(?<=[.!?])\s+", flat):
                if 25 <= len(s) <= 160 and re.fullmatch(r"[A-Za-z0-9 ,.;:'!?\"()-]+", s) and re.search(r"[a-z]", s):
                    out.add(s)
    out = sorted(out)
    random.Random(seed).shuffle(out)
    return out


def make_speakers(seed):
    rng = random.Random(seed)
    speakers = []
    variants = VARIANTS[:]
    rng.shuffle(variants)
    for i, v in enumerate(variants):
        female = v.startswith("female") or v in ("Alicia", "Andrea", "Annie", "Auntie", "Belinda", "Linda", "Steph", "anika", "grandma", "shelby")
        speakers.append({"id": f"es{i:02d}", "engine": "espeak-ng", "voice": f"{ACCENTS[i % len(ACCENTS)]}+{v}",
                         "pitch": rng.randint(20, 80), "speed": rng.randint(140, 185), "female": female})
    for i, (v, f0) in enumerate((v, f0) for v in FLITE_VOICES for f0 in ((90, 120) if v != "slt" else (170, 220))):
        speakers.append({"id": f"fl{i:02d}", "engine": "flite", "voice": v, "f0": f0, "stretch": round(rng.uniform(0.9, 1.15), 2),
                         "female": v == "slt"})
    return speakers


# Held out: two low and two high espeak voices, one low and one high flite voice.
HELD_OUT = {"es03", "es11", "es24", "es37", "fl01", "fl03"}


def synth(sp, text, path):
    tmp = path + ".raw.wav"
    txt = path + ".txt"
    with open(txt, "w") as f:  # through a file: a sentence may start with "-"
        f.write(text + "\n")
    if sp["engine"] == "espeak-ng":
        cmd = ["espeak-ng", "-v", sp["voice"], "-p", str(sp["pitch"]), "-s", str(sp["speed"]), "-w", tmp, "-f", txt]
    else:
        cmd = ["flite", "-voice", sp["voice"], "--setf", f"int_f0_target_mean={sp['f0']}", "--setf",
               f"duration_stretch={sp['stretch']}", "-f", txt, "-o", tmp]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.remove(txt)
    # 16 kHz mono int16, leading/trailing silence trimmed to at most 0.15 s, peak at -3 dBFS; -R: the
    # dither is seeded, so the same command makes the same files.
    subprocess.run(["sox", "-R", tmp, "-r", "16000", "-c", "1", "-b", "16", path, "silence", "1", "0.02", "0.1%", "reverse",
                    "silence", "1", "0.02", "0.1%", "reverse", "pad", "0.15", "0.15", "gain", "-n", "-3"], check=True)
    os.remove(tmp)
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="training/data")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--train-seconds", type=float, default=9000)
    ap.add_argument("--extra-seconds", type=float, default=36000)
    ap.add_argument("--heldout-per-speaker", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sents = sentences(args.seed)
    n_held_sent = len(sents) // 10
    held_sents, train_sents = sents[:n_held_sent], sents[n_held_sent:]
    speakers = make_speakers(args.seed)
    train_sp = [s for s in speakers if s["id"] not in HELD_OUT]
    held_sp = [s for s in speakers if s["id"] in HELD_OUT]
    jobs = []
    cursor = 0  # the next training sentence: the train split reads them first, then the extra split

    def plan(split, seconds, r, speaker, uid):
        """Utterances of 2-3 training sentences until `seconds` of speech (~12.5 characters a second)."""
        nonlocal cursor
        budget, k = seconds * 12.5, 0
        while budget > 0:
            sp, base = speaker(k)
            n = r.randint(2, 3)
            text = " ".join(train_sents[(cursor + j) % len(train_sents)] for j in range(n))
            cursor += n
            jobs.append((split, sp, text, uid(base, k)))
            budget -= len(text)
            k += 1

    plan("train", args.train_seconds, rng, lambda k: (train_sp[k % len(train_sp)],) * 2, lambda b, k: f"{b['id']}_{k:05d}")
    hi = 0
    for sp in held_sp:
        for j in range(args.heldout_per_speaker):
            text = " ".join(held_sents[(hi + m) % len(held_sents)] for m in range(3))
            hi += 3
            jobs.append(("heldout", sp, text, f"{sp['id']}_h{j:02d}"))
    # The extra split: its own generator, so the train and held-out jobs above do not depend on it.
    xrng = random.Random(args.seed + 1)

    def redrawn(_k):
        base = xrng.choice(train_sp)
        if base["engine"] == "espeak-ng":
            return dict(base, pitch=xrng.randint(5, 95), speed=xrng.randint(130, 195)), base
        return dict(base, f0=round(base["f0"] * xrng.uniform(0.9, 1.1)), stretch=round(xrng.uniform(0.9, 1.15), 2)), base

    plan("extra", args.extra_seconds, xrng, redrawn, lambda b, k: f"x{b['id']}_{k:05d}")
    for split in ("train", "heldout", "extra"):
        os.makedirs(os.path.join(args.out, "wav", split), exist_ok=True)

    def run(job):
        split, sp, text, uid = job
        path = os.path.join(args.out, "wav", split, uid + ".wav")
        dur = synth(sp, text, path)
        rec = {"id": uid, "split": split, "speaker": sp["id"], "text": text, "path": os.path.relpath(path, args.out), "seconds": dur}
        if split == "extra":  # the voice settings drawn for this utterance
            rec["voice"] = {k: sp[k] for k in ("pitch", "speed", "f0", "stretch") if k in sp}
        return rec

    with ThreadPoolExecutor(args.jobs) as ex:
        utts = list(ex.map(run, jobs))
    hours = {s: sum(u["seconds"] for u in utts if u["split"] == s) / 3600 for s in ("train", "heldout", "extra")}
    manifest = {"seed": args.seed, "sampleRate": 16000, "textSource": FORTUNE_DIR + " (Debian package fortunes)",
                "sentences": {"train": len(train_sents), "heldout": len(held_sents)}, "hours": hours,
                "speakers": speakers, "heldOutSpeakers": sorted(HELD_OUT), "utterances": utts}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{len(utts)} utterances, train {hours['train']:.2f} h ({len(train_sp)} speakers), "
          f"held out {hours['heldout']:.2f} h ({len(held_sp)} speakers), extra {hours['extra']:.2f} h")


if __name__ == "__main__":
    main()
