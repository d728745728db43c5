#!/usr/bin/env python3
"""Trains the shipped model's codec: a SEANet encoder/decoder with a residual vector quantiser,
the configuration family the engine loads as `family: "encodec"` (Hugging Face EncodecModel
tensor names; weight norm is folded into plain weights at export).

16 kHz, strides 2·4·5·8 = 320 samples → 50 frames/s; RVQ of 8 levels × 1024 codes (4 kbps).
Losses: multi-scale log-mel L1 + mel spectral convergence, waveform L1 and the commitment term; codebooks are
k-means initialised after a warm-up without quantisation and follow the encoder by exponential moving averages, and dead codes are
re-seeded from the batch. No adversarial loss (see training/README.md for why).

    /usr/bin/python3 training/codec.py --data training/data --out training/runs/codec --minutes 50 --seed 1
    /usr/bin/python3 training/codec.py --export training/runs/codec/last.pt --out models/default/codec.safetensors
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm

import common

CONFIG = dict(family="encodec", sampleRate=16000, channels=1, dimension=128, nFilters=24, nResidualLayers=1,
              ratios=[8, 5, 4, 2], kernelSize=7, lastKernelSize=7, residualKernelSize=3, dilationBase=2, compress=2,
              trueSkip=False, lstmLayers=0, causal=False, padMode="reflect", norm="weight_norm", trimRightRatio=1.0,
              codebookSize=1024, codebookDim=128, numQuantizers=8, targetBandwidths=[4.0])


class Conv(nn.Module):
    """SEANet convolution with EnCodec's padding rule (non-causal: split padding, right gets the extra)."""

    def __init__(self, cin, cout, k, stride=1, dilation=1):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(cin, cout, k, stride=stride, dilation=dilation))
        self.k_eff, self.stride = (k - 1) * dilation + 1, stride

    def forward(self, x):
        total = self.k_eff - self.stride
        n = x.shape[-1]
        frames = (n - self.k_eff + total) / self.stride + 1
        extra = (math.ceil(frames) - 1) * self.stride + (self.k_eff - total) - n
        right = total // 2 + extra
        left = total - total // 2
        return self.conv(F.pad(x, (left, right), mode="reflect"))


class ConvT(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv = weight_norm(nn.ConvTranspose1d(cin, cout, k, stride=stride))
        self.total = k - stride

    def forward(self, x):
        y = self.conv(x)
        right = self.total // 2
        left = self.total - right
        return y[..., left: y.shape[-1] - right]


class ResBlock(nn.Module):
    def __init__(self, dim, dilation, cfg):
        super().__init__()
        hid = dim // cfg["compress"]
        # indices 1 and 3 as in Hugging Face's EncodecResnetBlock (0 and 2 are the ELUs)
        self.block = nn.ModuleList([nn.ELU(), Conv(dim, hid, cfg["residualKernelSize"], dilation=dilation), nn.ELU(), Conv(hid, dim, 1)])
        self.shortcut = Conv(dim, dim, 1)

    def forward(self, x):
        y = x
        for m in self.block:
            y = m(y)
        return self.shortcut(x) + y


class SEANet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        nf, mult = cfg["nFilters"], 1
        enc = [Conv(cfg["channels"], nf, cfg["kernelSize"])]
        for r in reversed(cfg["ratios"]):
            for j in range(cfg["nResidualLayers"]):
                enc.append(ResBlock(nf * mult, cfg["dilationBase"] ** j, cfg))
            enc += [nn.ELU(), Conv(nf * mult, nf * mult * 2, 2 * r, stride=r)]
            mult *= 2
        enc += [nn.ELU(), Conv(nf * mult, cfg["dimension"], cfg["lastKernelSize"])]
        dec = [Conv(cfg["dimension"], nf * mult, cfg["kernelSize"])]
        for r in cfg["ratios"]:
            dec += [nn.ELU(), ConvT(nf * mult, nf * mult // 2, 2 * r, r)]
            mult //= 2
            for j in range(cfg["nResidualLayers"]):
                dec.append(ResBlock(nf * mult, cfg["dilationBase"] ** j, cfg))
        dec += [nn.ELU(), Conv(nf, cfg["channels"], cfg["lastKernelSize"])]
        self.encoder = nn.ModuleList(enc)
        self.decoder = nn.ModuleList(dec)
        # Variance-keeping initialisation (std 1/sqrt(fan_in), zero biases; residual branches and the
        # output layer start small): with PyTorch's default (std ~ 1/sqrt(3 fan_in)) the signal
        # shrinks ~0.6x per layer and the encoder's output is all bias — a constant the decoder
        # learns to ignore (that run collapsed).
        small = {id(b.block[3].conv) for b in self.modules() if isinstance(b, ResBlock)}
        last = id(dec[-1].conv)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                v = m.weight_v
                fan_in = v.shape[1] * v.shape[2] if isinstance(m, nn.Conv1d) else v.shape[0] * v.shape[2] // m.stride[0]
                gain = 0.3 if id(m) in small else 0.1 if id(m) == last else 1.0
                with torch.no_grad():
                    v.normal_(0, gain / fan_in ** 0.5)
                    m.weight_g.copy_(v.norm(dim=(1, 2), keepdim=True))
                    m.bias.zero_()

    @staticmethod
    def run(layers, x):
        for m in layers:
            x = m(x)
        return x


def nearest_code(x, codebook):
    """Index of the nearest codebook row (squared Euclidean distance) for each row of x."""
    return ((x * x).sum(1, keepdim=True) - 2 * x @ codebook.t() + (codebook * codebook).sum(1)[None]).argmin(1)


class RVQ(nn.Module):
    """Residual VQ with EMA codebooks (decay 0.99), k-means-style init and dead-code re-seeding."""

    def __init__(self, levels, size, dim, decay=0.99):
        super().__init__()
        self.levels, self.size, self.decay = levels, size, decay
        self.register_buffer("embed", torch.randn(levels, size, dim))
        self.register_buffer("embed_sum", self.embed.clone())
        self.register_buffer("count", torch.ones(levels, size))
        self.register_buffer("inited", torch.zeros((), dtype=torch.bool))

    def nearest(self, q, x):
        return nearest_code(x, self.embed[q])

    def forward(self, z, n_levels=None):
        """z [B, D, T] → (quantised [B, D, T], codes [B, L, T], commitment loss)."""
        B, D, T = z.shape
        x = z.permute(0, 2, 1).reshape(-1, D)
        if self.training and not bool(self.inited):
            self._init(x.detach())
        res, out, codes, commit = x, torch.zeros_like(x), [], 0.0
        for q in range(n_levels or self.levels):
            idx = self.nearest(q, res.detach())
            qv = self.embed[q][idx]
            if self.training:
                self._ema(q, res.detach(), idx)
            commit = commit + F.mse_loss(res, qv.detach())
            out = out + qv
            res = res - qv.detach()
            codes.append(idx.view(B, T))
        quant = x + (out - x).detach()  # straight-through
        return quant.view(B, T, D).permute(0, 2, 1), torch.stack(codes, 1), commit

    @torch.no_grad()
    def _init(self, x):
        res = x
        for q in range(self.levels):
            sel = res[torch.randint(0, res.shape[0], (self.size,))]
            for _ in range(10):  # a few Lloyd iterations
                idx = nearest_code(res, sel)
                s = torch.zeros_like(sel).index_add_(0, idx, res)
                c = torch.bincount(idx, minlength=self.size).float()
                sel = torch.where(c[:, None] > 0, s / c.clamp(min=1)[:, None], sel)
            self.embed[q] = sel
            self.embed_sum[q] = sel
            self.count[q] = 1
            res = res - sel[nearest_code(res, sel)]
        self.inited.fill_(True)

    @torch.no_grad()
    def _ema(self, q, x, idx):
        c = torch.bincount(idx, minlength=self.size).float()
        s = torch.zeros_like(self.embed[q]).index_add_(0, idx, x)
        self.count[q].mul_(self.decay).add_(c, alpha=1 - self.decay)
        self.embed_sum[q].mul_(self.decay).add_(s, alpha=1 - self.decay)
        n = self.count[q].sum()
        smoothed = (self.count[q] + 1e-5) / (n + self.size * 1e-5) * n
        self.embed[q] = self.embed_sum[q] / smoothed[:, None]
        dead = self.count[q] < 0.05 * x.shape[0] / self.size  # unused for a few hundred steps
        nd = int(dead.sum())
        if nd:
            pick = x[torch.randint(0, x.shape[0], (nd,))]
            self.embed[q][dead] = pick
            self.embed_sum[q][dead] = pick
            self.count[q][dead] = 1


class Codec(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.net = SEANet(cfg)
        self.rvq = RVQ(cfg["numQuantizers"], cfg["codebookSize"], cfg["codebookDim"])

    @torch.no_grad()
    def encode(self, wav):
        """RVQ codes [levels, frames] (int16) of one waveform (a float32 numpy array)."""
        z = SEANet.run(self.net.encoder, torch.from_numpy(wav)[None, None])
        return self.rvq(z)[1][0].numpy().astype(np.int16)

    def forward(self, wav, quantize=True):
        z = SEANet.run(self.net.encoder, wav[:, None])
        if not quantize:  # warm-up as a plain autoencoder
            return SEANet.run(self.net.decoder, z)[:, 0], None, torch.zeros(())
        q, codes, commit = self.rvq(z)
        return SEANet.run(self.net.decoder, q)[:, 0], codes, commit


def spectral_loss(y, x):
    loss = 0.0
    for n_fft, n_mels in ((256, 32), (512, 64), (1024, 64), (2048, 80)):
        a, b = common.log_mel(y, n_fft, n_fft // 4, n_mels), common.log_mel(x, n_fft, n_fft // 4, n_mels)
        ma, mb = a.exp(), b.exp()  # log-mel L1 plus spectral convergence of the mel magnitudes
        loss = loss + (a - b).abs().mean() + (ma - mb).norm() / mb.norm().clamp(min=1e-5)
    return loss


def named_convs(model):
    """(component tensor prefix, weight-normed conv) of every convolution, in HF EncodecModel names."""
    for side, layers in (("encoder", model.net.encoder), ("decoder", model.net.decoder)):
        for i, m in enumerate(layers):
            convs = []
            if isinstance(m, (Conv, ConvT)):
                convs = [("", m)]
            elif isinstance(m, ResBlock):
                convs = [("block.1.", m.block[1]), ("block.3.", m.block[3]), ("shortcut.", m.shortcut)]
            for sub, c in convs:
                yield f"{side}.layers.{i}.{sub}conv", c.conv


def export(model, path, f16=False):
    """Folds weight norm and writes the engine's codec component (HF EncodecModel names)."""
    tensors = {}
    for name, mod in named_convs(model):
        g, v = mod.weight_g.detach(), mod.weight_v.detach()
        w = g * v / v.norm(dim=(1, 2), keepdim=True)  # torch's weight_norm: dim 0, also when transposed
        tensors[f"{name}.weight"] = w.float().numpy()
        tensors[f"{name}.bias"] = mod.bias.detach().float().numpy()
    for q in range(model.cfg["numQuantizers"]):
        tensors[f"quantizer.layers.{q}.codebook.embed"] = model.rvq.embed[q].float().numpy()
    if f16:
        tensors = {k: v.astype(np.float16) for k, v in tensors.items()}
    common.save_safetensors(path, tensors, {common.CONFIG_KEY: json.dumps(model.cfg)})


def load(path):
    """A training checkpoint (.pt), or an exported component (.safetensors, e.g. the shipped
    models/default/codec.safetensors) for encoding only: its folded weights become weight norm's
    direction with the per-channel norms as gains, so the model computes with exactly those weights."""
    if path.endswith(".safetensors"):
        return load_exported(path), None
    ck = torch.load(path, map_location="cpu")
    model = Codec(ck["config"])
    model.load_state_dict(ck["model"])
    return model.eval(), ck


def load_exported(path):
    tensors, meta = common.load_safetensors(path)
    model = Codec(json.loads(meta[common.CONFIG_KEY]))
    with torch.no_grad():
        for name, mod in named_convs(model):
            w = torch.from_numpy(tensors[f"{name}.weight"])
            mod.weight_v.copy_(w)
            mod.weight_g.copy_(w.norm(dim=(1, 2), keepdim=True))
            mod.bias.copy_(torch.from_numpy(tensors[f"{name}.bias"]))
        for q in range(model.cfg["numQuantizers"]):
            model.rvq.embed[q] = torch.from_numpy(tensors[f"quantizer.layers.{q}.codebook.embed"])
        model.rvq.inited.fill_(True)
    return model.eval()


def train(args):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    torch.set_num_threads(args.threads)
    utts = common.load_split(args.data, "train")
    audio = np.concatenate([w for _, w in utts]).astype(np.float32)
    print(f"training audio: {len(audio) / 16000 / 3600:.2f} h", flush=True)
    os.makedirs(args.out, exist_ok=True)
    last = os.path.join(args.out, "last.pt")
    model = Codec(dict(CONFIG))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.8, 0.99))
    step, spent = 0, 0.0
    if os.path.exists(last) and not args.fresh:
        ck = torch.load(last, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, spent = ck["step"], ck["seconds"]
        print(f"resumed at step {step} ({spent / 60:.1f} min)", flush=True)
    model.train()
    L = args.crop
    t0 = time.time() - spent
    log = open(os.path.join(args.out, "log.txt"), "a")

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": time.time() - t0, "config": model.cfg}, last)

    while True:
        spent = time.time() - t0
        if spent > args.minutes * 60 or (args.steps and step >= args.steps):
            break
        starts = rng.integers(0, len(audio) - L, args.batch)
        x = torch.from_numpy(np.stack([audio[s: s + L] for s in starts]))
        x = x * torch.from_numpy(rng.uniform(0.3, 1.0, (args.batch, 1)).astype(np.float32))  # level variety
        # A noise floor 50-70 dB down: the synthesisers' pauses are digital zeros, whose log-mel
        # would dominate the loss (no recording is that silent).
        floor = 10 ** (rng.uniform(-70, -50, (args.batch, 1)) / 20)
        x = x + torch.from_numpy((rng.standard_normal(x.shape) * floor).astype(np.float32))
        lr = args.lr * min(1.0, (step + 1) / 200)
        for g in opt.param_groups:
            g["lr"] = lr
        quantize = step >= args.warmup
        if quantize and not bool(model.rvq.inited):
            # k-means initialisation of the codebooks on the warmed-up encoder's outputs
            with torch.no_grad():
                crops = torch.from_numpy(np.stack([audio[s: s + L] for s in rng.integers(0, len(audio) - L, 200)]))
                z = torch.cat([SEANet.run(model.net.encoder, c[:, None]) for c in crops.split(20)])
                model.rvq._init(z.permute(0, 2, 1).reshape(-1, z.shape[1]))
            print(f"codebooks initialised at step {step}", flush=True)
        y, _, commit = model(x, quantize)
        spec = spectral_loss(y, x)
        wav = (y - x).abs().mean()
        loss = spec + 5.0 * wav + 0.5 * commit
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        step += 1
        if step % 25 == 0:
            with torch.no_grad():
                snr = 10 * torch.log10((x ** 2).sum(1) / ((y - x) ** 2).sum(1).clamp(min=1e-9)).mean()
            line = f"step {step} {spent / 60:.1f} min loss {loss.item():.3f} mel {spec.item():.3f} l1 {wav.item():.4f} commit {float(commit):.3f} snr {snr.item():.2f} dB"
            print(line, flush=True)
            log.write(line + "\n")
            log.flush()
        if step % 200 == 0:
            save()
    save()
    print(f"done: {step} steps in {(time.time() - t0) / 60:.1f} min", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--out", default="training/runs/codec")
    ap.add_argument("--minutes", type=float, default=50)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=9600)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=300, help="steps without quantisation")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--export", help="checkpoint to export to --out (a .safetensors path)")
    args = ap.parse_args()
    if args.export:
        model, _ = load(args.export)
        export(model, args.out)
        print(f"wrote {args.out}")
    else:
        train(args)


if __name__ == "__main__":
    main()
