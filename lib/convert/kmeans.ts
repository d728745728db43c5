/**
 * `audiolm convert kmeans`: k-means centroids for semantic tokens, from a joblib dump of a
 * fitted scikit-learn `KMeans` (its `cluster_centers_`, stored by joblib's array wrapper), from a
 * `.npy` of centroids [K, D], or from a component we wrote. Pickles are read by the restricted
 * reader (lib/formats/pickle/index.ts): scikit-learn's classes stay inert records, never code.
 */
import { readFile } from "node:fs/promises";

import { AudioLMError } from "../errors.js";
import { decodeNpy } from "../formats/npy.js";
import { PickleObject, TorchTensor, readPickle, tensorToFloat32 } from "../formats/pickle/index.js";
import { readSafetensors } from "../formats/safetensors.js";
import { writeComponent } from "./weights.js";

/** Centroids [clusters, dim] as f32. */
export interface Centroids {
  clusters: number;
  dim: number;
  data: Float32Array;
}

function fromTensor(t: TorchTensor, src: string): Centroids {
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${src}: cluster centres must be a [K, D] array but have shape [${t.shape}]`);
  }
  return { clusters: t.shape[0], dim: t.shape[1], data: tensorToFloat32(t) };
}

function centersOf(obj: unknown): TorchTensor | undefined {
  if (obj instanceof TorchTensor) return obj;
  if (obj instanceof PickleObject) {
    const s = obj.state;
    if (s instanceof Map && s.get("cluster_centers_") instanceof TorchTensor) return s.get("cluster_centers_") as TorchTensor;
    if (obj.dictItems?.get("cluster_centers_") instanceof TorchTensor) return obj.dictItems.get("cluster_centers_") as TorchTensor;
  }
  if (obj instanceof Map) {
    for (const key of ["cluster_centers_", "centroids", "kmeans.centroids"]) if (obj.get(key) instanceof TorchTensor) return obj.get(key) as TorchTensor;
  }
  return undefined;
}

/** Reads k-means centroids from `.joblib`/`.bin`/`.pkl` (sklearn KMeans), `.npy`, or `.safetensors`. */
export async function readCentroids(src: string): Promise<Centroids> {
  let bytes: Buffer;
  try {
    bytes = await readFile(src);
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `cannot read ${src}: ${(err as Error).message}`);
  }
  if (src.endsWith(".npy")) {
    const a = decodeNpy(bytes, src);
    if (a.shape.length !== 2 || !(a.data instanceof Float32Array || a.data instanceof Float64Array)) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${src}: expected float centroids of shape [K, D] but found ${a.dtype} [${a.shape}]`);
    }
    return { clusters: a.shape[0], dim: a.shape[1], data: Float32Array.from(a.data) };
  }
  if (src.endsWith(".safetensors")) {
    const st = await readSafetensors(bytes);
    const t = st.tensors.get("kmeans.centroids");
    if (!t || t.shape.length !== 2) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${src} holds no kmeans.centroids [K, D] tensor`);
    return { clusters: t.shape[0], dim: t.shape[1], data: t.data };
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${src} is a compressed joblib file: re-save it with joblib.dump(kmeans, path) without compress`);
  }
  const obj = readPickle(bytes, { source: src });
  const t = centersOf(obj);
  if (!t) {
    const what = obj instanceof PickleObject ? obj.opaque : typeof obj;
    throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${src}: expected a fitted KMeans (with cluster_centers_) but found ${what}`);
  }
  return fromTensor(t, src);
}

/** The MFCC front-end's settings (docs/mfcc.md): the engine's defaults unless overridden. */
export interface MfccOptions {
  [key: string]: number | boolean | string;
}

/**
 * Writes centroids as a component. With `mfcc` the result is a complete MFCC + k-means semantic
 * tokenizer (the centroids must be 39-dimensional); otherwise a `kmeans` component that
 * `convert hubert --kmeans` accepts.
 */
export async function convertKmeans(src: string, out: string, opts: { mfcc?: boolean | MfccOptions } = {}): Promise<Centroids> {
  const c = await readCentroids(src);
  const tensors = new Map([["kmeans.centroids", { shape: [c.clusters, c.dim], data: c.data }]]);
  let config: object = { family: "kmeans", clusters: c.clusters, dim: c.dim };
  if (opts.mfcc) {
    if (c.dim !== 39) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `an MFCC tokenizer needs 39-dimensional centroids (13 MFCC + Δ + ΔΔ) but ${src} has ${c.dim}`);
    }
    config = { family: "semantic-tokenizer", frontend: "mfcc", sampleRate: 16000, clusters: c.clusters, mfcc: typeof opts.mfcc === "object" ? opts.mfcc : {} };
  }
  await writeComponent(out, tensors, config, { source: src.split("/").pop() });
  return c;
}
