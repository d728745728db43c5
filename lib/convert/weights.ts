/** Reading source checkpoints and writing components: the pieces every converter shares. */
import { AudioLMError } from "../errors.js";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.js";
import { PickleObject } from "../formats/pickle/index.js";
import { flattenStateDict, loadTorchCheckpoint, tensorToFloat32 } from "../formats/torch-checkpoint.js";

/** A source tensor, already converted to f32. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Loads every tensor of a `.safetensors` file or a PyTorch checkpoint (`.pt`, `.th`, `.bin`, `.ckpt`). */
export async function loadWeights(path: string): Promise<Map<string, WeightTensor>> {
  return (await loadCheckpoint(path)).tensors;
}

/** Like loadWeights, plus the unpickled object tree of a PyTorch checkpoint (inert records only). */
export async function loadCheckpoint(path: string): Promise<{ tensors: Map<string, WeightTensor>; object: unknown }> {
  const out = new Map<string, WeightTensor>();
  if (path.endsWith(".safetensors")) {
    const st = await readSafetensors(path);
    for (const [name, t] of st.tensors) out.set(name, { shape: t.shape, data: t.data });
    return { tensors: out, object: null };
  }
  const obj = await loadTorchCheckpoint(path);
  for (const [name, t] of flattenStateDict(obj)) out.set(name, { shape: t.shape, data: tensorToFloat32(t) });
  if (out.size === 0) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${path} holds no tensors`);
  return { tensors: out, object: obj };
}

/**
 * Finds a hyper-parameter by name anywhere in a checkpoint's pickled config records (fairseq's
 * argparse.Namespace `args`, or omegaconf `cfg` nodes): a read of inert data, nothing runs.
 */
export function findSetting(root: unknown, key: string, maxDepth = 12): unknown {
  const seen = new Set<unknown>();
  const unwrap = (v: unknown): unknown => {
    // omegaconf keeps leaf values in nodes whose state holds `_val`
    if (v instanceof PickleObject && v.state instanceof Map && v.state.has("_val")) return v.state.get("_val");
    return v;
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > maxDepth || v === null || typeof v !== "object" || seen.has(v)) return undefined;
    seen.add(v);
    const children: unknown[] = [];
    if (v instanceof Map) {
      if (v.has(key)) return unwrap(v.get(key));
      children.push(...v.values());
    } else if (Array.isArray(v)) {
      children.push(...v);
    } else if (v instanceof PickleObject) {
      children.push(v.state, v.dictItems, ...(v.args ?? []));
    }
    for (const c of children) {
      const found = walk(c, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(root, 0);
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
