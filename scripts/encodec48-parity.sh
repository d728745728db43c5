#!/usr/bin/env bash
# Full-size EnCodec 48 kHz parity (stereo, 1 s segments, loudness normalisation): Meta's reference
# code builds encodec_model_48khz with random weights and codebooks drawn from normalised segments of
# a 2.5 s stereo input, and writes its codes at 6 kbps, the segments' frames and scales, and its
# decode; we convert the checkpoint (no config: the stereo defaults apply), encode the input and
# decode the reference codes through the API, and compare. Needs /usr/bin/python3 with torch and a
# checkout of facebookresearch/encodec at $ENCODEC_SRC (default /tmp/encodec-ref). Not run by CI.
#   bash scripts/encodec48-parity.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/encodec48-full}
SRC=${ENCODEC_SRC:-/tmp/encodec-ref}
mkdir -p "$DIR"
/usr/bin/python3 - "$DIR" "$SRC" <<'PY'
import importlib.util, json, sys
import numpy as np, torch
out, src = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("er", "scripts/encodec-reference.py")
er = importlib.util.module_from_spec(spec); spec.loader.exec_module(er)
encodec = er.import_encodec(src)
torch.manual_seed(0); torch.set_num_threads(1)
m = encodec.model.EncodecModel.encodec_model_48khz(pretrained=False)
# The same model spelled out in the reference's argument names (bench/torch_codec.py --config).
cfg = dict(er.reference_24khz_config(), name="encodec_48khz", sample_rate=48000, channels=2, causal=False,
           norm="time_group_norm", normalize=True, segment=1.0, overlap=0.01, target_bandwidths=[3.0, 6.0, 12.0, 24.0], n_q=16)
twin = er.build_model(encodec, cfg)
assert {k: v.shape for k, v in twin.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}
with open(f"{out}/config.json", "w") as f:
    json.dump(cfg, f, indent=1)
er.randomize_parameters(m, 5)
sr, n = 48000, 120000
x = np.stack([er.synth_signal(n, sr, 11), 0.3 * er.synth_signal(n, sr, 12)]).astype(np.float32)
x *= np.linspace(0.2, 1.0, n, dtype=np.float32)[None]
calib = [p / (1e-8 + np.sqrt(np.mean(p.mean(0) ** 2)))
         for p in (x[:, o: o + m.segment_length] for o in range(0, n, m.segment_stride))]
er.randomize_codebooks(m, calib, 7)
m.eval()
torch.save(m.state_dict(), f"{out}/encodec_48khz_random.th")
m.set_target_bandwidth(6.0)
with torch.no_grad():
    frames = m.encode(torch.from_numpy(x)[None])
    dec = m.decode(frames)[0].numpy()
np.save(f"{out}/input.npy", x)
np.save(f"{out}/codes_6kbps.npy", np.concatenate([c[0].numpy() for c, _ in frames], 1).astype(np.int32))
np.save(f"{out}/decoded.npy", dec)
with open(f"{out}/segments.json", "w") as f:
    json.dump({"frames": [int(c.shape[-1]) for c, _ in frames], "scales": [float(s.item()) for _, s in frames]}, f)
PY
node --input-type=module - "$DIR" <<'JS'
import { readFileSync } from "node:fs";
import { Codec, convertEncodec } from "./dist/index.js";
import { decodeNpy, npyToInt32 } from "./dist/formats/npy.js";
const dir = process.argv[2];
const npy = (f) => decodeNpy(readFileSync(`${dir}/${f}`));
await convertEncodec(`${dir}/encodec_48khz_random.th`, `${dir}/ours.safetensors`);
const codec = await Codec.load(`${dir}/ours.safetensors`);
const x = npy("input.npy").data;
const want = npyToInt32(npy("codes_6kbps.npy"));
const ref = npy("decoded.npy").data;
const seg = JSON.parse(readFileSync(`${dir}/segments.json`, "utf8"));
const codes = await codec.encode(x, { bandwidth: 6 });
let same = 0;
for (let i = 0; i < want.length; i++) same += codes.data[i] === want[i] ? 1 : 0;
const scaleErr = Math.max(...codes.segments[0].map((s, j) => Math.abs(s.scale / seg.scales[j] - 1)));
const segments = [seg.frames.map((frames, j) => ({ frames, scale: seg.scales[j] }))];
const [audio] = await codec.decode({ data: want, shape: [1, codes.shape[1], want.length / codes.shape[1]], segments });
let num = 0, den = 0;
for (let i = 0; i < ref.length; i++) { num += (audio[i] - ref[i]) ** 2; den += ref[i] ** 2; }
const rel = Math.sqrt(num / den);
console.log(JSON.stringify({ segments: seg.frames, codesEqual: same / want.length, scaleRelErr: scaleErr, decodeRelL2: rel }));
await codec.dispose();
if (same / want.length < 0.999 || scaleErr > 1e-6 || rel > 1e-5 || audio.length !== ref.length) process.exit(1);
JS
