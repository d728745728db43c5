"""Shared helpers of the training scripts: corpus loading, safetensors I/O (the engine's own
reference module in test/fixtures), and the audio front ends used by losses and metrics."""
import json
import os
import subprocess
import sys
import wave

import numpy as np
import scipy.io.wavfile
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "fixtures"))
import transformer_reference as tref  # noqa: E402  (our PyTorch reference of the stage format)

save_safetensors = tref.save_safetensors
load_safetensors = tref.load_safetensors
CONFIG_KEY = tref.CONFIG_KEY


def read_wav(path):
    """16-bit PCM or float WAV → float32 mono (channels averaged) and its rate."""
    rate, x = scipy.io.wavfile.read(path)
    if x.dtype == np.int16:
        x = x.astype(np.float32) / 32768.0
    elif x.dtype != np.float32:
        raise ValueError(f"{path}: expected 16-bit PCM or 32-bit float samples, not {x.dtype}")
    return (x.mean(axis=1, dtype=np.float32) if x.ndim == 2 else x), rate


def write_wav(path, x, rate=16000):
    y = np.clip(np.asarray(x, dtype=np.float32), -1, 1)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((y * 32767).round().astype("<i2").tobytes())


def sox_pitch(path, cents, tmp_dir):
    """The speech of a WAV shifted by `cents` with sox `pitch` (the duration is kept; -R: repeatable dither)."""
    out = os.path.join(tmp_dir, os.path.basename(path))
    subprocess.run(["sox", "-R", path, out, "pitch", str(cents)], check=True)
    wav, _ = read_wav(out)
    os.remove(out)
    return wav


def load_manifest(data_dir):
    with open(os.path.join(data_dir, "manifest.json")) as f:
        return json.load(f)


def load_split(data_dir, split):
    """[(utterance record, float32 waveform)] of one split, in manifest order."""
    man = load_manifest(data_dir)
    return [(u, read_wav(os.path.join(data_dir, u["path"]))[0]) for u in man["utterances"] if u["split"] == split]


_MEL_CACHE = {}


def mel_filters(n_fft, n_mels, rate=16000, fmin=0.0, fmax=None):
    """HTK-mel triangular filters [n_mels, n_fft//2+1] (no area normalisation)."""
    key = (n_fft, n_mels, rate, fmin, fmax)
    if key not in _MEL_CACHE:
        fmax = fmax or rate / 2
        mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
        pts = 700 * (10 ** (np.linspace(mel(fmin), mel(fmax), n_mels + 2) / 2595) - 1)
        f = np.arange(n_fft // 2 + 1) * rate / n_fft
        fb = np.zeros((n_mels, len(f)), np.float32)
        for i in range(n_mels):
            lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
            fb[i] = np.maximum(0, np.minimum((f - lo) / (c - lo), (hi - f) / (hi - c)))
        _MEL_CACHE[key] = torch.from_numpy(fb)
    return _MEL_CACHE[key]


def log_mel(x, n_fft=1024, hop=256, n_mels=64, eps=1e-5):
    """x [B, T] → log mel magnitude [B, n_mels, frames]."""
    win = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(x, n_fft, hop, window=win, return_complex=True, center=True).abs()
    return torch.log(torch.matmul(mel_filters(n_fft, n_mels).to(x.device), spec) + eps)
