#!/usr/bin/env python3
"""Full-size EnCodec parity and timing helper (PyTorch reference side).

This script drives Meta's published reference implementation
(https://github.com/facebookresearch/encodec) so that audiolm-node's C++
EnCodec engine can be checked against it at full size. The reference code is
NOT vendored: it is imported at run time from a checkout given with
``--encodec-src`` (default ``/tmp/encodec-ref``), e.g.::

    git clone https://github.com/facebookresearch/encodec /tmp/encodec-ref
    # or, from a bare mirror:
    mkdir -p /tmp/encodec-ref && git --git-dir=MIRROR archive HEAD | tar -x -C /tmp/encodec-ref

Requirements: python3 with torch (1.13+ tested), numpy, scipy. The reference
package imports ``einops`` and ``torchaudio`` at module level; when they are not
installed this script registers tiny in-memory stand-ins (only the einops
patterns used by the inference path; torchaudio is only needed by the
reference's audio I/O helpers, which are not used here). Nothing is written to
disk for them.

Commands (a command-line usage summary is printed by ``--help``):

  --make DIR
      Build the full-size causal 24 kHz model with
      ``EncodecModel.encodec_model_24khz(pretrained=False)`` and random weights
      (seeded; every weight_g / weight_v / bias / LSTM weight and every
      codebook is re-drawn, ``inited`` is set to 1), then write:
        DIR/encodec_24khz_random.th  torch.save(model.state_dict()) - original
                                     checkpoint key layout
        DIR/config.json              reference hyper-parameters: one flat JSON
                                     object in the argument names of
                                     SEANetEncoder/SEANetDecoder/
                                     ResidualVectorQuantizer/EncodecModel
                                     (see reference_24khz_config)
        DIR/input.wav, DIR/input.npy 3 s mono float32 input at 24 kHz
                                     (espeak-ng speech if available, else
                                     sines + noise)
        DIR/codes_6kbps.npy          int32 [8, frames] reference codes at 6 kbps
        DIR/decoded_ref.npy          float32 [samples] model.decode(codes),
                                     untrimmed (frames * 320 samples)
        DIR/meta.json                provenance (torch version, reference commit
                                     if known, shapes, seed)

  --compare DIR --codes OURS.npy --audio OURS.(wav|npy)
      OURS.npy are our codes for DIR/input.wav at 6 kbps ([8, frames], any int
      dtype, a leading batch dim of 1 is accepted). OURS audio must be OUR
      decode of the REFERENCE codes DIR/codes_6kbps.npy (so that a single
      flipped code does not pollute the audio comparison). Prints the % of
      equal codes and the relative L2 error ||ours - ref|| / ||ref|| over the
      common length; exits 1 if codes < 99.9 % equal or rel L2 >= 1e-4.

  --time DIR [--bandwidth 6] [--runs 5] [--warmup 1]
      Times torch eager encode and decode (no grad,
      torch.set_num_threads(os.cpu_count())) on DIR/input.npy with
      DIR/encodec_24khz_random.th and prints JSON with medians.

bench/torch_codec.py imports this file (``load_reference_module``) and reuses
``time_model``.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

DEFAULT_ENCODEC_SRC = "/tmp/encodec-ref"
DEFAULT_SEED = 1234

# --------------------------------------------------------------------------
# Importing the reference implementation
# --------------------------------------------------------------------------

_EINOPS_PATTERNS = {
    # pattern -> function(tensor, **axes) for the patterns the reference uses.
    "b ... t -> b t ...": lambda x: x.movedim(-1, 1),
    "b t ... -> b ... t": lambda x: x.movedim(1, -1),
    "n d -> n () d": lambda x: x.unsqueeze(1),
    "c d -> () c d": lambda x: x.unsqueeze(0),
    "... d -> (...) d": lambda x: x.reshape(-1, x.shape[-1]),
    "b d n -> b n d": lambda x: x.transpose(1, 2),
    "b n d -> b d n": lambda x: x.transpose(1, 2),
}


def _install_import_shims():
    """Register minimal stand-ins for einops/torchaudio if they are missing."""
    try:
        import einops  # noqa: F401
    except ImportError:
        shim = types.ModuleType("einops")
        shim.__doc__ = "audiolm-node in-memory einops stand-in (reference patterns only)"

        def rearrange(x, pattern, **axes):
            key = " ".join(pattern.split())
            if key not in _EINOPS_PATTERNS:
                raise NotImplementedError(f"einops shim: unsupported pattern {pattern!r}")
            return _EINOPS_PATTERNS[key](x)

        def repeat(x, pattern, **axes):
            key = " ".join(pattern.split())
            if key == "n -> n d":
                return x.unsqueeze(-1).expand(x.shape[0], axes["d"])
            raise NotImplementedError(f"einops shim: unsupported pattern {pattern!r}")

        shim.rearrange = rearrange
        shim.repeat = repeat
        sys.modules["einops"] = shim
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        shim = types.ModuleType("torchaudio")
        shim.__doc__ = "audiolm-node in-memory torchaudio stand-in (no audio I/O)"

        def _missing(*_a, **_k):
            raise RuntimeError("torchaudio is not installed (stand-in module)")

        shim.load = shim.save = _missing
        shim.transforms = types.SimpleNamespace(Resample=_missing)
        sys.modules["torchaudio"] = shim


def import_encodec(encodec_src=DEFAULT_ENCODEC_SRC):
    """Import the reference ``encodec`` package from ``encodec_src``."""
    src = os.path.abspath(encodec_src)
    if not os.path.isfile(os.path.join(src, "encodec", "model.py")):
        raise SystemExit(
            f"reference encodec sources not found under {src} "
            "(expected {src}/encodec/model.py); pass --encodec-src")
    if src not in sys.path:
        sys.path.insert(0, src)
    _install_import_shims()
    import encodec  # noqa: F401
    import encodec.model
    import encodec.modules
    import encodec.quantization
    mod_file = os.path.abspath(encodec.model.__file__)
    if not mod_file.startswith(src + os.sep):
        raise SystemExit(f"imported encodec from {mod_file}, not from {src}")
    return encodec


def reference_commit(encodec_src, git_dir=None):
    """Best-effort commit id of the reference checkout (or a bare mirror)."""
    candidates = []
    if git_dir:
        candidates.append(["git", "--git-dir", git_dir, "rev-parse", "HEAD"])
    candidates.append(["git", "-C", encodec_src, "rev-parse", "HEAD"])
    for cmd in candidates:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            return out.stdout.strip()
        except Exception:
            continue
    return None


# --------------------------------------------------------------------------
# Model construction from reference hyper-parameters
# --------------------------------------------------------------------------

SEANET_KEYS = ("channels", "dimension", "n_filters", "n_residual_layers", "ratios", "activation",
               "activation_params", "norm", "norm_params", "kernel_size", "last_kernel_size",
               "residual_kernel_size", "dilation_base", "causal", "pad_mode", "true_skip",
               "compress", "lstm")
DECODER_ONLY_KEYS = ("final_activation", "final_activation_params", "trim_right_ratio")
QUANTIZER_KEYS = ("n_q", "bins", "decay", "kmeans_init", "kmeans_iters", "threshold_ema_dead_code")


def reference_24khz_config():
    """Hyper-parameters of EncodecModel.encodec_model_24khz, spelled out.

    A flat dict in the reference's own argument names: the SEANetEncoder /
    SEANetDecoder kwargs (shared by both; ``trim_right_ratio`` and
    ``final_activation*`` are decoder-only), the ResidualVectorQuantizer kwargs
    (``dimension`` is shared with SEANet) and the EncodecModel kwargs. The
    SEANet defaults are written out so a converter needs no knowledge of them.
    """
    return {
        "name": "encodec_24khz",
        "sample_rate": 24000,
        "channels": 1,
        "target_bandwidths": [1.5, 3.0, 6.0, 12.0, 24.0],
        "normalize": False,
        "segment": None,
        "overlap": 0.01,
        # SEANetEncoder / SEANetDecoder
        "dimension": 128,
        "n_filters": 32,
        "n_residual_layers": 1,
        "ratios": [8, 5, 4, 2],
        "activation": "ELU",
        "activation_params": {"alpha": 1.0},
        "norm": "weight_norm",
        "norm_params": {},
        "kernel_size": 7,
        "last_kernel_size": 7,
        "residual_kernel_size": 3,
        "dilation_base": 2,
        "causal": True,
        "pad_mode": "reflect",
        "true_skip": False,
        "compress": 2,
        "lstm": 2,
        # SEANetDecoder only
        "trim_right_ratio": 1.0,
        "final_activation": None,
        "final_activation_params": None,
        # ResidualVectorQuantizer (dimension = SEANet dimension)
        "n_q": 32,
        "bins": 1024,
        "decay": 0.99,
        "kmeans_init": True,
        "kmeans_iters": 50,
        "threshold_ema_dead_code": 2,
    }


def build_model(encodec, cfg):
    """Build an EncodecModel from a flat config dict (``reference_24khz_config`` format)."""
    m = encodec.modules
    qt = encodec.quantization
    seanet = {k: cfg[k] for k in SEANET_KEYS if k in cfg}
    enc = m.SEANetEncoder(**seanet)
    dec = m.SEANetDecoder(**seanet, **{k: cfg[k] for k in DECODER_ONLY_KEYS if k in cfg})
    quant = qt.ResidualVectorQuantizer(dimension=cfg["dimension"],
                                       **{k: cfg[k] for k in QUANTIZER_KEYS if k in cfg})
    model = encodec.model.EncodecModel(
        enc, dec, quant, list(cfg["target_bandwidths"]), cfg["sample_rate"], cfg["channels"],
        normalize=cfg.get("normalize", False), segment=cfg.get("segment"),
        overlap=cfg.get("overlap", 0.01), name=cfg.get("name", "unset"))
    model.eval()
    return model


def bandwidth_rule(model, extra_bandwidths=()):
    """frame_rate / bits-per-second-per-codebook and n_q for each bandwidth."""
    q = model.quantizer
    fr = model.frame_rate
    bws = sorted(set(list(model.target_bandwidths) + list(extra_bandwidths)))
    return {
        "frame_rate": fr,
        "frame_rate_formula": "ceil(sample_rate / prod(ratios))",
        "bits_per_codebook": model.bits_per_codebook,
        "bw_per_q": q.get_bandwidth_per_quantizer(fr),
        "bw_per_q_units": "bits per second (= log2(bins) * frame_rate)",
        "n_q_formula": "max(1, floor(bandwidth_kbps * 1000 / bw_per_q)) if bandwidth > 0 else n_q; "
                       "NOT clamped to n_q (the layer slice layers[:n_q] clamps implicitly)",
        "n_q_total": q.n_q,
        "target_bandwidths": list(model.target_bandwidths),
        "n_q_for_bandwidth": {repr(float(bw)): q.get_num_quantizers_for_bandwidth(fr, bw)
                              for bw in bws},
    }


# --------------------------------------------------------------------------
# Random weights
# --------------------------------------------------------------------------

def randomize_parameters(model, seed):
    """Re-draw every parameter with a fixed seed (codebooks are set separately).

    weight_v ~ N(0, 1); weight_g ~ U(0.5, 1.5) with ~25 % negative entries (so a
    port that silently uses |g| or ignores g is caught); biases ~ N(0, 0.05);
    LSTM weights/biases ~ U(-1/sqrt(H), 1/sqrt(H)); anything else ~ N(0, 0.1).
    """
    import torch
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                mag = 0.5 + torch.rand(p.shape, generator=gen)
                sign = torch.where(torch.rand(p.shape, generator=gen) < 0.25, -1.0, 1.0)
                p.copy_(mag * sign)
            elif name.endswith("weight_v"):
                p.copy_(torch.randn(p.shape, generator=gen))
            elif ".lstm." in name:
                k = 1.0 / math.sqrt(p.shape[-1] if p.dim() == 2 else p.shape[0] // 4)
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * k)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def randomize_codebooks(model, calib_audio, seed, jitter=0.3):
    """Data-driven random codebooks (a k-means-init look-alike, no iterations).

    The encoder is run on ``calib_audio`` (list of float32 [C, T] arrays); for
    each RVQ level, ``bins`` residual frames are drawn at random (with
    replacement when there are fewer frames than bins) and jittered with
    Gaussian noise of ``jitter`` x the per-dimension residual std. The level's
    quantization is then subtracted so deeper levels see smaller residuals.
    ``inited`` is set to 1, ``embed_avg`` = embed, ``cluster_size`` = 1 so
    nothing is re-initialised or expired.
    """
    import torch
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        frames = []
        for a in calib_audio:
            x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]
            emb = model.encoder(x)  # [1, D, F]
            frames.append(emb[0].t())
        residual = torch.cat(frames, 0)  # [N, D]
        for layer in model.quantizer.vq.layers:
            cb = layer._codebook
            bins, dim = cb.embed.shape
            n = residual.shape[0]
            if n >= bins:
                idx = torch.randperm(n, generator=gen)[:bins]
            else:
                idx = torch.randint(0, n, (bins,), generator=gen)
            std = residual.std(0, keepdim=True).clamp_min(1e-6)
            embed = residual[idx] + jitter * std * torch.randn((bins, dim), generator=gen)
            cb.embed.copy_(embed)
            cb.embed_avg.copy_(embed)
            cb.cluster_size.fill_(1.0)
            cb.inited.fill_(1.0)
            # subtract this level's quantization
            dist = torch.cdist(residual, embed)
            residual = residual - embed[dist.argmin(1)]


def synth_signal(n, sr, seed, amp=0.5):
    """Audio-like test signal: a few (partly gliding) sines + AM + small noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64) / sr
    x = np.zeros(n)
    nyq = sr / 2
    for _ in range(4):
        f0 = rng.uniform(0.02, 0.3) * nyq
        glide = rng.uniform(-0.05, 0.05) * nyq
        phase = 2 * np.pi * (f0 * t + 0.5 * glide * t * t / max(t[-1], 1e-9))
        x += rng.uniform(0.3, 1.0) * np.sin(phase + rng.uniform(0, 2 * np.pi))
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(1, 5) * t + rng.uniform(0, 2 * np.pi))
    x += 0.05 * rng.standard_normal(n)
    x = amp * x / np.max(np.abs(x))
    return x.astype(np.float32)


def speech_signal(n, sr, seed, text=None):
    """espeak-ng speech resampled to ``sr`` (None if espeak-ng is unavailable)."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return None
    from scipy.io import wavfile
    from scipy.signal import resample_poly
    text = text or ("The quick brown fox jumps over the lazy dog, "
                    "while seven wizards quietly hex the jovial zebra.")
    with tempfile.TemporaryDirectory() as td:
        path = os.path.join(td, "s.wav")
        try:
            subprocess.run([exe, "-s", "170", "-w", path, text], check=True,
                           capture_output=True)
            src_sr, y = wavfile.read(path)
        except Exception:
            return None
    y = y.astype(np.float64)
    if y.ndim > 1:
        y = y.mean(1)
    g = math.gcd(int(src_sr), int(sr))
    y = resample_poly(y, sr // g, src_sr // g)
    if len(y) < n:
        y = np.concatenate([y, np.zeros(n - len(y))])
    y = y[:n]
    rng = np.random.default_rng(seed)
    y = y / (np.max(np.abs(y)) + 1e-12) * 0.7 + 1e-3 * rng.standard_normal(n)
    return y.astype(np.float32)


# --------------------------------------------------------------------------
# Encode / decode helpers
# --------------------------------------------------------------------------

def encode_codes(model, audio, bandwidth):
    """Reference codes for a mono/stereo float32 array ([T] or [C, T]) -> int64 [K, F]."""
    import torch
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    model.set_target_bandwidth(bandwidth)
    with torch.no_grad():
        frames = model.encode(torch.from_numpy(np.ascontiguousarray(x))[None])
    assert len(frames) == 1, "segmented models are not handled here"
    codes, scale = frames[0]
    assert scale is None
    return codes[0].numpy()


def decode_codes(model, codes):
    """model.decode of int codes [K, F] -> float32 [C, T] (untrimmed)."""
    import torch
    c = torch.from_numpy(np.asarray(codes, dtype=np.int64))[None]
    with torch.no_grad():
        out = model.decode([(c, None)])
    return out[0].numpy().astype(np.float32)


def load_audio(path):
    """.npy or .wav -> float32 array [T] (mono) or [C, T]."""
    if path.endswith(".npy"):
        a = np.load(path).astype(np.float32)
    else:
        from scipy.io import wavfile
        _, a = wavfile.read(path)
        if a.dtype == np.int16:
            a = a.astype(np.float32) / 32768.0
        elif a.dtype == np.int32:
            a = a.astype(np.float32) / 2147483648.0
        a = a.astype(np.float32)
        if a.ndim == 2:
            a = a.T
    a = np.squeeze(a)
    return a


def time_model(model, audio, bandwidth, runs=5, warmup=1, threads=None):
    """Median wall time of eager encode / decode; returns a JSON-able dict."""
    import torch
    threads = threads or os.cpu_count()
    torch.set_num_threads(threads)
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    xt = torch.from_numpy(np.ascontiguousarray(x))[None]
    model.set_target_bandwidth(bandwidth)
    enc_t, dec_t = [], []
    with torch.no_grad():
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            frames = model.encode(xt)
            t1 = time.perf_counter()
            out = model.decode(frames)
            t2 = time.perf_counter()
            if i >= warmup:
                enc_t.append(t1 - t0)
                dec_t.append(t2 - t1)
    secs = x.shape[-1] / model.sample_rate
    me, md = float(np.median(enc_t)), float(np.median(dec_t))
    return {
        "engine": "torch-eager",
        "torch_version": torch.__version__,
        "threads": threads,
        "bandwidth_kbps": bandwidth,
        "n_q": int(frames[0][0].shape[1]),
        "audio_seconds": secs,
        "decoded_samples": int(out.shape[-1]),
        "runs": runs,
        "warmup": warmup,
        "encode_median_s": me,
        "decode_median_s": md,
        "encode_seconds_of_audio_per_second": secs / me,
        "decode_seconds_of_audio_per_second": secs / md,
        "encode_all_s": enc_t,
        "decode_all_s": dec_t,
    }


def load_state_dict_model(encodec, th_path, cfg=None):
    import torch
    cfg = cfg or reference_24khz_config()
    model = build_model(encodec, cfg)
    state = torch.load(th_path, map_location="cpu")
    model.load_state_dict(state)
    model.eval()
    return model


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------

def cmd_make(args):
    import torch
    from scipy.io import wavfile
    encodec = import_encodec(args.encodec_src)
    torch.manual_seed(args.seed)
    os.makedirs(args.make, exist_ok=True)
    cfg = reference_24khz_config()

    model = encodec.model.EncodecModel.encodec_model_24khz(pretrained=False)
    model.eval()
    # sanity: our spelled-out config builds the same architecture
    twin = build_model(encodec, cfg)
    a = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    assert a == b, "reference_24khz_config() does not match encodec_model_24khz()"
    del twin

    sr = model.sample_rate
    n = args.length_samples or int(round(args.seconds * sr))
    audio = speech_signal(n, sr, args.seed) if not args.no_speech else None
    source = "espeak-ng (resampled to 24 kHz with scipy.signal.resample_poly)"
    if audio is None:
        audio = synth_signal(n, sr, args.seed)
        source = "sines + noise (synth_signal)"

    randomize_parameters(model, args.seed)
    calib = [audio[None], synth_signal(n, sr, args.seed + 1)[None],
             (0.1 * np.random.default_rng(args.seed + 2).standard_normal(n)).astype(np.float32)[None]]
    randomize_codebooks(model, calib, args.seed + 3)
    model.eval()

    bw = args.bandwidth
    codes = encode_codes(model, audio, bw)
    decoded = decode_codes(model, codes)

    th_path = os.path.join(args.make, "encodec_24khz_random.th")
    torch.save(model.state_dict(), th_path)
    wavfile.write(os.path.join(args.make, "input.wav"), sr, audio.astype(np.float32))
    np.save(os.path.join(args.make, "input.npy"), audio.astype(np.float32))
    np.save(os.path.join(args.make, "codes_6kbps.npy" if bw == 6 else f"codes_{bw:g}kbps.npy"),
            codes.astype(np.int32))
    np.save(os.path.join(args.make, "decoded_ref.npy"), decoded[0])
    with open(os.path.join(args.make, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    meta = {
        "made_by": "scripts/encodec-reference.py --make",
        "reference_commit": reference_commit(args.encodec_src, args.encodec_git_dir),
        "torch_version": torch.__version__,
        "seed": args.seed,
        "input_source": source,
        "sample_rate": sr,
        "input_samples": int(n),
        "bandwidth_kbps": bw,
        "codes_shape": list(codes.shape),
        "decoded_samples": int(decoded.shape[-1]),
        "bandwidth_rule": bandwidth_rule(model),
        "unique_codes_per_level": [int(len(np.unique(c))) for c in codes],
        "decoded_rms": float(np.sqrt(np.mean(decoded.astype(np.float64) ** 2))),
        "input_rms": float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))),
    }
    with open(os.path.join(args.make, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps({k: meta[k] for k in ("reference_commit", "input_source", "input_samples",
                                           "codes_shape", "decoded_samples",
                                           "unique_codes_per_level", "decoded_rms")}, indent=2))
    print(f"wrote {args.make}")
    return 0


def cmd_compare(args):
    d = args.compare
    ref_codes = np.load(os.path.join(d, "codes_6kbps.npy")).astype(np.int64)
    ref_audio = np.load(os.path.join(d, "decoded_ref.npy")).astype(np.float64).reshape(-1)
    n_in = int(np.load(os.path.join(d, "input.npy")).shape[-1])
    ok = True
    if args.codes:
        ours = np.squeeze(np.load(args.codes)).astype(np.int64)
        if ours.shape != ref_codes.shape:
            print(f"codes: shape mismatch ours {ours.shape} vs ref {ref_codes.shape}")
            k = min(ours.shape[0], ref_codes.shape[0]) if ours.ndim == 2 else 0
            f = min(ours.shape[-1], ref_codes.shape[-1])
            equal = float((ours[:k, :f] == ref_codes[:k, :f]).sum()) / ref_codes.size if k else 0.0
            ok = False
        else:
            equal = float((ours == ref_codes).mean())
            per_level = [float((ours[i] == ref_codes[i]).mean()) for i in range(ours.shape[0])]
            print(f"codes: {100 * equal:.4f} % equal  per level: "
                  + " ".join(f"{100 * p:.2f}" for p in per_level))
        if equal < 0.999:
            ok = False
    if args.audio:
        ours = load_audio(args.audio).astype(np.float64).reshape(-1)
        n = min(len(ours), len(ref_audio))
        if len(ours) != len(ref_audio):
            print(f"audio: length ours {len(ours)} vs ref {len(ref_audio)} "
                  f"(input {n_in}); comparing the first {n} samples")
        if n < n_in:
            print(f"audio: too short ({n} < input length {n_in})")
            ok = False
        err = float(np.linalg.norm(ours[:n] - ref_audio[:n]) / max(np.linalg.norm(ref_audio[:n]), 1e-30))
        maxabs = float(np.max(np.abs(ours[:n] - ref_audio[:n])))
        print(f"audio: rel L2 {err:.3e}  max abs diff {maxabs:.3e}")
        if not (err < 1e-4):
            ok = False
    if not args.codes and not args.audio:
        raise SystemExit("--compare needs --codes and/or --audio")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def cmd_time(args):
    encodec = import_encodec(args.encodec_src)
    d = args.time
    cfg = reference_24khz_config()
    cfg_path = os.path.join(d, "config.json")
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            cfg = json.load(f)
    model = load_state_dict_model(encodec, os.path.join(d, "encodec_24khz_random.th"), cfg)
    audio = load_audio(os.path.join(d, "input.npy"))
    res = time_model(model, audio, args.bandwidth, runs=args.runs, warmup=args.warmup,
                     threads=args.threads)
    print(json.dumps(res, indent=2))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--make", metavar="DIR", help="build the random full-size model and reference outputs")
    g.add_argument("--compare", metavar="DIR", help="compare our codes/audio against DIR's reference")
    g.add_argument("--time", metavar="DIR", help="time torch eager encode/decode")
    p.add_argument("--encodec-src", default=DEFAULT_ENCODEC_SRC,
                   help="checkout of facebookresearch/encodec (default %(default)s)")
    p.add_argument("--encodec-git-dir", default=None,
                   help="git dir to read the reference commit from (e.g. a bare mirror)")
    p.add_argument("--codes", help="(--compare) our codes .npy")
    p.add_argument("--audio", help="(--compare) our decode of DIR/codes_6kbps.npy (.wav or .npy)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--length-samples", type=int, default=0, help="override --seconds")
    p.add_argument("--no-speech", action="store_true", help="use sines+noise even if espeak-ng exists")
    p.add_argument("--bandwidth", type=float, default=6.0)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="default: os.cpu_count()")
    args = p.parse_args(argv)
    if args.make:
        return cmd_make(args)
    if args.compare:
        return cmd_compare(args)
    return cmd_time(args)


if __name__ == "__main__":
    sys.exit(main())
