#!/usr/bin/python3
"""Full-size HuBERT-base parity and timing helper (PyTorch reference side).

audiolm-node's semantic tokenizer runs HuBERT base up to layer L (9 for audiolm-pytorch's
default ``hubert_base_ls960`` + ``hubert_base_ls960_L9_km500.bin``) and assigns every frame
to its nearest k-means centroid. This script checks our engine against our own PyTorch
reference of that architecture (test/fixtures/hubert_reference.py; it needs no transformers /
fairseq) at full size with random weights, and times torch on it. Run it with the system
Python that has torch (1.13+ tested), numpy, scipy, scikit-learn and joblib:

    /usr/bin/python3 scripts/hubert-reference.py --make /tmp/hubert-full
    /usr/bin/python3 scripts/hubert-reference.py --time /tmp/hubert-full
    <our engine> on /tmp/hubert-full/model.safetensors + config.json, input_5s.npy (or .wav),
        layer 9, centroids kmeans_centroids.npy (or kmeans.joblib) -> OURS_hidden.npy, OURS_tokens.npy
    /usr/bin/python3 scripts/hubert-reference.py --compare /tmp/hubert-full \\
        --hidden OURS_hidden.npy --tokens OURS_tokens.npy [--input 5s]

Keep DIR out of the repository (the model is about 380 MB).

Commands:

  --make DIR [--seed 1234] [--clusters 500] [--layer 9] [--weight-norm-names legacy]
             [--with-fairseq]
      Writes a FULL-SIZE HuBERT base (hidden 768, 12 layers, 12 heads, FF 3072, conv 7 x 512,
      pos conv 128 / 16 groups) with seeded random weights (hubert_reference.random_params)
      in the Hugging Face layout:
        DIR/model.safetensors        F32, HF names; the pos-conv weight norm as weight_g /
                                     weight_v (--weight-norm-names parametrizations: as
                                     parametrizations.weight.original0 / original1)
        DIR/config.json              HubertConfig (HF names)
        DIR/input_2s.npy, .wav       32000 samples, DIR/input_5s.npy, .wav 80000 samples:
                                     float32 16 kHz speech (espeak-ng; sines + noise without
                                     it); the .wav files are 32-bit float PCM holding the same
                                     values as the .npy
        DIR/hidden_L9_2s.npy, DIR/hidden_L9_5s.npy
                                     float32 [frames, 768]: output of encoder layer 9 (HF
                                     hidden_states[9], fairseq extract_features(output_layer=9))
                                     of the float32 reference (99 and 249 frames)
        DIR/kmeans.joblib            joblib.dump (uncompressed) of a sklearn MiniBatchKMeans
                                     (the class fairseq's learn_kmeans.py writes) with
                                     --clusters centroids, fitted on layer-9 float32 features
                                     of 64 s of other speech
        DIR/kmeans_centroids.npy     float32 [K, 768] cluster_centers_
        DIR/tokens_2s.npy, DIR/tokens_5s.npy
                                     int32 [frames]: kmeans.predict(hidden as float32)
        DIR/meta.json                provenance, shapes, float32-vs-float64 reference error,
                                     token margins
        DIR/fairseq/hubert_base_random.pt   only with --with-fairseq: the same weights in
                                     the fairseq layout (args Namespace, no cfg)

  --compare DIR --hidden OURS.npy --tokens OURS.npy [--input 5s]
      OURS are our layer-9 hidden states ([frames, 768], a leading batch dim of 1 is
      accepted) and tokens for DIR/input_<input>.npy. Prints the relative L2 error
      ||ours - ref|| / ||ref||, the max abs error and the % of equal tokens (with the
      reference's distance margin at every mismatch). Exits 1 when rel L2 >= 1e-4 or
      tokens < 99.9 % equal (on 249 frames that means every token must match).

  --time DIR [--input 5s] [--layer 9] [--runs 5] [--warmup 1] [--threads N]
      Times torch eager (our reference: F.conv1d / F.linear / matmul-softmax, the same ops
      as transformers' HubertModel) from the waveform to layer --layer on DIR/input_5s.npy,
      torch.no_grad, float32, torch.set_num_threads(N = --threads or os.cpu_count()), with
      OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS = N and OMP_WAIT_POLICY=PASSIVE
      (unless already set) exported before torch is imported (torch here uses the system
      OpenBLAS, whose pool torch.set_num_threads does not size). Prints one JSON object with
      seconds_of_audio_per_second = audio seconds / median wall seconds.

  --run MODEL --audio IN.(npy|wav) --out DIR [--layer 9] [--kmeans KM.(joblib|bin)]
      Reference outputs for a real checkpoint: MODEL is an HF directory (config.json +
      model.safetensors or pytorch_model.bin) or a fairseq .pt (e.g. hubert_base_ls960.pt;
      omegaconf is not needed, its pickled classes load as placeholders and the
      hyper-parameters come from args or cfg.model). Writes DIR/hidden_L<layer>.npy and, with
      --kmeans, DIR/tokens.npy (kmeans.predict of the float32 features, as audiolm-pytorch's
      HubertWithKmeans does). The waveform is used as-is (no normalisation: fairseq's
      hubert_base_ls960 task has normalize=False).

bench/torch_hubert.py imports this file (configure_threads, load_reference, time_model) for
the node benchmarks.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_REF = os.path.join(_HERE, os.pardir, "test", "fixtures", "hubert_reference.py")

DEFAULT_SEED = 1234
DEFAULT_LAYER = 9
DEFAULT_CLUSTERS = 500
INPUT_SECONDS = {"2s": 2.0, "5s": 5.0}
REL_L2_LIMIT = 1e-4
TOKEN_LIMIT = 99.9


def configure_threads(threads=None):
    """Size every thread pool through the environment; call before torch is imported.
    Returns the thread count (default os.cpu_count())."""
    threads = int(threads or os.cpu_count() or 1)
    if "torch" in sys.modules:
        print("warning: torch already imported; OMP/OpenBLAS thread variables may not apply",
              file=sys.stderr)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    # libgomp's spinning workers otherwise compete with OpenBLAS's own pool
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return threads


def load_reference():
    """Import test/fixtures/hubert_reference.py (imports torch)."""
    if "hubert_reference" in sys.modules:
        return sys.modules["hubert_reference"]
    spec = importlib.util.spec_from_file_location("hubert_reference", os.path.abspath(_REF))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hubert_reference"] = mod
    spec.loader.exec_module(mod)
    return mod


def _write_wav_f32(path, x, sr=16000):
    from scipy.io import wavfile
    import numpy as np
    wavfile.write(path, sr, np.asarray(x, np.float32))


# ----------------------------------------------------------------------------------------
# --make
# ----------------------------------------------------------------------------------------

def make(out, seed=DEFAULT_SEED, clusters=DEFAULT_CLUSTERS, layer=DEFAULT_LAYER,
         weight_norm_names="legacy", with_fairseq=False):
    import numpy as np
    import torch
    import joblib
    import sklearn
    from sklearn.cluster import MiniBatchKMeans
    hr = load_reference()
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    cfg = hr.resolve_config(hr.BASE_CONFIG)
    params = hr.random_params(cfg, seed)
    n_params = sum(v.numel() for v in params.values())
    hr.save_safetensors(os.path.join(out, "model.safetensors"),
                        hr.hf_state_dict(params, weight_norm_names), {"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hr.hf_config_json(cfg), f, indent=2)
    if with_fairseq:
        import argparse as _ap
        os.makedirs(os.path.join(out, "fairseq"), exist_ok=True)
        torch.save({"args": _ap.Namespace(
            arch="hubert", extractor_mode="default", encoder_layers=12, encoder_embed_dim=768,
            encoder_ffn_embed_dim=3072, encoder_attention_heads=12, activation_fn="gelu",
            layer_norm_first=False, conv_bias=False, conv_pos=128, conv_pos_groups=16,
            conv_feature_layers="[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",
            normalize=False, sample_rate=16000, label_rate=50),
            "cfg": None, "model": hr.fairseq_state_dict(params), "task_state": {}},
            os.path.join(out, "fairseq", "hubert_base_random.pt"))
    print(f"weights: {n_params / 1e6:.1f} M parameters, "
          f"{os.path.getsize(os.path.join(out, 'model.safetensors')) / 1e6:.0f} MB, "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)

    model = hr.HubertReference(cfg, params)
    model64 = model.to(torch.float64)
    meta = {"seed": seed, "layer": layer, "clusters": clusters, "config": cfg,
            "parameters": n_params, "weight_norm_names": weight_norm_names,
            "versions": {"torch": torch.__version__, "numpy": np.__version__,
                         "sklearn": sklearn.__version__, "joblib": joblib.__version__},
            "inputs": {}}
    hidden = {}
    torch.set_num_threads(os.cpu_count() or 1)
    with torch.no_grad():
        for j, (name, sec) in enumerate(INPUT_SECONDS.items()):
            n = int(round(sec * 16000))
            x = hr.speech_like(n, seed + 10 + j, text=" ".join(hr.SENTENCES[j * 2: j * 2 + 3]))
            np.save(os.path.join(out, f"input_{name}.npy"), x)
            _write_wav_f32(os.path.join(out, f"input_{name}.wav"), x)
            h = model(x, output_layer=layer, keep_all=False)["hidden"][layer][0].numpy()
            h64 = model64(x, output_layer=layer, keep_all=False)["hidden"][layer][0].numpy()
            np.save(os.path.join(out, f"hidden_L{layer}_{name}.npy"), h)
            hidden[name] = (h, h64)
            meta["inputs"][name] = {
                "samples": n, "frames": int(h.shape[0]),
                "float32_vs_float64_rel_l2": float(np.linalg.norm(h - h64) / np.linalg.norm(h64))}
            print(f"input {name}: {h.shape[0]} frames, float32 vs float64 rel L2 "
                  f"{meta['inputs'][name]['float32_vs_float64_rel_l2']:.2e}", file=sys.stderr)
        feats = []
        t1 = time.perf_counter()
        for j in range(16):
            y = hr.speech_like(64000, seed + 100 + j, text=hr.SENTENCES[j % len(hr.SENTENCES)],
                               voice=("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland")[j % 4],
                               speed=140 + 5 * j, pitch=30 + 4 * j)
            feats.append(model(y, output_layer=layer, keep_all=False)["hidden"][layer][0].numpy())
        X = np.ascontiguousarray(np.concatenate(feats), np.float32)
        print(f"k-means data: {X.shape[0]} frames, {time.perf_counter() - t1:.1f} s", file=sys.stderr)
    # fairseq examples/hubert/simple_kmeans/learn_kmeans.py settings (batch size scaled down)
    km = MiniBatchKMeans(n_clusters=clusters, init="k-means++", max_iter=100, batch_size=1024,
                         tol=0.0, max_no_improvement=100, init_size=None, n_init=3,
                         reassignment_ratio=0.0, random_state=0)
    km.fit(X)
    joblib.dump(km, os.path.join(out, "kmeans.joblib"))
    np.save(os.path.join(out, "kmeans_centroids.npy"), km.cluster_centers_.astype(np.float32))
    meta["kmeans"] = {"class": "sklearn.cluster.MiniBatchKMeans", "n_clusters": clusters,
                      "fitted_on_frames": int(X.shape[0]), "n_init": 3, "random_state": 0,
                      "batch_size": 1024, "cluster_centers_dtype": str(km.cluster_centers_.dtype),
                      "predict_input_dtype": "float32"}
    for name, (h, h64) in hidden.items():
        tok = km.predict(np.ascontiguousarray(h, np.float32)).astype(np.int32)
        np.save(os.path.join(out, f"tokens_{name}.npy"), tok)
        lab, margin = hr.nearest_centroids(h, km.cluster_centers_)
        tok64 = km.predict(np.ascontiguousarray(h64, np.float32))
        meta["inputs"][name].update({
            "tokens_unique": int(len(np.unique(tok))),
            "sklearn_vs_float64_distance_agreement": float((lab == tok).mean()),
            "tokens_equal_when_fed_float64_reference": float((tok64 == tok).mean()),
            "min_margin": float(margin.min()),
            "frames_with_margin_below_1e-3": int((margin < 1e-3).sum()),
            "frames_with_margin_below_1e-2": int((margin < 1e-2).sum()),
        })
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta["inputs"], indent=1))
    print(f"made {out} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return meta


# ----------------------------------------------------------------------------------------
# --compare
# ----------------------------------------------------------------------------------------

def _squeeze(a, ndim):
    """Drop leading batch dims of size 1 down to ``ndim`` dims."""
    import numpy as np
    a = np.asarray(a)
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    return a


def compare(d, hidden_path, tokens_path, name="5s", layer=DEFAULT_LAYER):
    import numpy as np
    ok = True
    report = {"input": name}
    ref_h = np.load(os.path.join(d, f"hidden_L{layer}_{name}.npy")).astype(np.float64)
    if hidden_path:
        ours = _squeeze(np.load(hidden_path), 2).astype(np.float64)
        if ours.shape != ref_h.shape:
            print(f"hidden shape {ours.shape} != reference {ref_h.shape}")
            return 1
        rel = float(np.linalg.norm(ours - ref_h) / np.linalg.norm(ref_h))
        report.update(hidden_rel_l2=rel, hidden_max_abs=float(np.abs(ours - ref_h).max()))
        ok &= rel < REL_L2_LIMIT
    if tokens_path:
        ref_t = np.load(os.path.join(d, f"tokens_{name}.npy")).astype(np.int64)
        ours_t = _squeeze(np.load(tokens_path), 1).astype(np.int64)
        if ours_t.shape != ref_t.shape:
            print(f"tokens shape {ours_t.shape} != reference {ref_t.shape}")
            return 1
        eq = 100.0 * float((ours_t == ref_t).mean())
        report["tokens_equal_pct"] = eq
        bad = np.nonzero(ours_t != ref_t)[0]
        if len(bad):
            hr_c = np.load(os.path.join(d, "kmeans_centroids.npy")).astype(np.float64)
            dist = ((ref_h[bad, None, :] - hr_c[None]) ** 2).sum(-1)
            r = np.arange(len(bad))
            report["mismatches"] = [
                {"frame": int(f), "ref": int(ref_t[f]), "ours": int(ours_t[f]),
                 "ref_distance_gap": float(dist[i, ours_t[f]] - dist[i, ref_t[f]])
                 if 0 <= ours_t[f] < len(hr_c) else None}
                for i, f in zip(r, bad[:20])]
        ok &= eq >= TOKEN_LIMIT
    report["pass"] = bool(ok)
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


# ----------------------------------------------------------------------------------------
# --time
# ----------------------------------------------------------------------------------------

def time_model(model, audio, layer=DEFAULT_LAYER, runs=5, warmup=1, threads=None):
    """Median wall time of model(audio, output_layer=layer) in torch eager, no grad."""
    import torch
    threads = int(threads or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    x = torch.from_numpy(audio)[None]
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x, output_layer=layer, keep_all=False)
        for _ in range(runs):
            t = time.perf_counter()
            out = model(x, output_layer=layer, keep_all=False)
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    sec = audio.shape[-1] / 16000.0
    return {"seconds_of_audio_per_second": sec / med, "median_s": med, "runs_s": times,
            "audio_seconds": sec, "frames": int(out["hidden"][layer].shape[1]), "layer": layer,
            "threads": threads, "torch_num_threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "torch": torch.__version__,
            "implementation": "test/fixtures/hubert_reference.py (torch eager, float32)"}


def time_path(model_path, audio_path, layer=DEFAULT_LAYER, runs=5, warmup=1, threads=None):
    hr = load_reference()
    t = time.perf_counter()
    model = hr.load_model(model_path)
    load_s = time.perf_counter() - t
    res = time_model(model, hr.load_audio(audio_path), layer, runs, warmup, threads)
    res.update(model=os.path.abspath(model_path), input=os.path.abspath(audio_path), load_s=load_s)
    return res


# ----------------------------------------------------------------------------------------
# --run
# ----------------------------------------------------------------------------------------

def run(model_path, audio_path, out, layer=DEFAULT_LAYER, kmeans_path=None):
    import numpy as np
    import torch
    hr = load_reference()
    model = hr.load_model(model_path)
    x = hr.load_audio(audio_path)
    with torch.no_grad():
        h = model(x, output_layer=layer, keep_all=False)["hidden"][layer][0].numpy()
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, f"hidden_L{layer}.npy"), h)
    res = {"frames": int(h.shape[0]), "layer": layer, "config": model.cfg}
    if kmeans_path:
        import joblib
        km = joblib.load(kmeans_path)
        tok = km.predict(np.ascontiguousarray(h, np.float32)).astype(np.int32)
        np.save(os.path.join(out, "tokens.npy"), tok)
        np.save(os.path.join(out, "kmeans_centroids.npy"), np.asarray(km.cluster_centers_, np.float32))
        res["tokens_unique"] = int(len(np.unique(tok)))
    print(json.dumps(res))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="full-size HuBERT reference: make / compare / time / run",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Commands:", 1)[1])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--make", metavar="DIR")
    g.add_argument("--compare", metavar="DIR")
    g.add_argument("--time", metavar="DIR")
    g.add_argument("--run", metavar="MODEL")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--clusters", type=int, default=DEFAULT_CLUSTERS)
    p.add_argument("--layer", type=int, default=DEFAULT_LAYER)
    p.add_argument("--weight-norm-names", choices=("legacy", "parametrizations"), default="legacy")
    p.add_argument("--with-fairseq", action="store_true")
    p.add_argument("--hidden", metavar="OURS.npy")
    p.add_argument("--tokens", metavar="OURS.npy")
    p.add_argument("--input", choices=sorted(INPUT_SECONDS), default="5s")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="default: os.cpu_count()")
    p.add_argument("--audio", metavar="IN")
    p.add_argument("--kmeans", metavar="KM")
    p.add_argument("--out", metavar="DIR")
    args = p.parse_args(argv)

    threads = configure_threads(args.threads or None)  # before torch is imported
    if args.make:
        make(args.make, args.seed, args.clusters, args.layer, args.weight_norm_names, args.with_fairseq)
        return 0
    if args.compare:
        if not (args.hidden or args.tokens):
            p.error("--compare needs --hidden and/or --tokens")
        return compare(args.compare, args.hidden, args.tokens, args.input, args.layer)
    if args.time:
        res = time_path(args.time, os.path.join(args.time, f"input_{args.input}.npy"), args.layer,
                        args.runs, args.warmup, threads)
        print(json.dumps(res))
        return 0
    if not (args.audio and args.out):
        p.error("--run needs --audio and --out")
    return run(args.run, args.audio, args.out, args.layer, args.kmeans)


if __name__ == "__main__":
    sys.exit(main())
