/** Reading source checkpoints and writing components: the pieces every converter shares. */
import { AudioLMError } from "../errors.js";
import { readSafetensors, writeSafetensors } from "../safetensors.js";
import { flattenStateDict, loadTorchCheckpoint, tensorToFloat32 } from "../torch-checkpoint.js";

/** A source tensor, already converted to f32. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Loads every tensor of a `.safetensors` file or a PyTorch checkpoint (`.pt`, `.th`, `.bin`, `.ckpt`). */
export async function loadWeights(path: string): Promise<Map<string, WeightTensor>> {
  const out = new Map<string, WeightTensor>();
  if (path.endsWith(".safetensors")) {
    const st = await readSafetensors(path);
    for (const [name, t] of st.tensors) out.set(name, { shape: t.shape, data: t.data });
    return out;
  }
  const obj = await loadTorchCheckpoint(path);
  for (const [name, t] of flattenStateDict(obj)) out.set(name, { shape: t.shape, data: tensorToFloat32(t) });
  if (out.size === 0) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${path} holds no tensors`);
  return out;
}

/** Writes a component: the tensors plus the config as JSON under `audiolm.config`. */
export async function writeComponent(
  path: string,
  tensors: Map<string, WeightTensor>,
  config: object,
  opts: { source?: string; dtype?: "F32" | "F16" | "BF16" } = {},
): Promise<void> {
  const dtype = opts.dtype ?? "F32";
  const list = [...tensors.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, t]) => ({ name, dtype, shape: t.shape, data: t.data }));
  const metadata: Record<string, string> = { "audiolm.config": JSON.stringify(config), "audiolm.format": "1" };
  if (opts.source) metadata["audiolm.source"] = opts.source;
  await writeSafetensors(path, list, metadata);
}
