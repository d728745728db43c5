/**
 * A restricted Python pickle reader (protocols 0–5) that only ever *builds data*: it never imports,
 * calls or evaluates anything.
 *
 * What comes out:
 * - None → `null`; bool → `boolean`; int → `number` when it is a safe integer, else `bigint`;
 *   float → `number`; str → `string`; bytes / bytearray → `Buffer` (bytes are zero-copy views of the
 *   input, do not mutate); list and tuple → `Array` (tuples are not distinguished from lists);
 *   dict, `collections.OrderedDict`, `collections.defaultdict` → `Map` (keys keep their pickled
 *   values: strings, numbers, bigints, booleans, null, arrays by identity); set / frozenset → `Set`.
 * - tensors from `torch._utils._rebuild_tensor(_v2/_v3)` / `_rebuild_parameter(_with_state)` and
 *   numeric numpy arrays (`numpy.core.multiarray._reconstruct` + BUILD, `numpy.core.numeric._frombuffer`,
 *   joblib's `NumpyArrayWrapper`) → {@link TorchTensor}; numpy scalars → number / bigint / boolean;
 *   `numpy.dtype` → {@link NumpyDType}.
 * - any other importable name → {@link PickleGlobal} (the bare reference), and calling it (REDUCE,
 *   NEWOBJ, NEWOBJ_EX, INST, OBJ) → {@link PickleObject}, an inert record of the class name, the
 *   arguments, the BUILD state and any dict/list items. Nothing runs.
 * - names that only make sense for running code (`os.*`, `posix.*`, `subprocess.*`, `builtins.eval`,
 *   `builtins.getattr`, `functools.partial`, `torch.load`, `torch.jit.*`, ...) are rejected with
 *   `AudioLMError` code `ERR_AUDIOLM_UNSAFE_PICKLE` naming the global, as soon as the name appears.
 *
 * Malformed input (truncation, unknown opcodes, stack underflow, bad memo indices, oversized
 * lengths) → `ERR_AUDIOLM_INVALID_CHECKPOINT` with the byte offset of the failing opcode.
 */
import { AudioLMError } from "../../errors.js";
import type { ReadPickleOptions } from "./values.js";
import { PickleVM } from "./vm.js";

export { bf16BitsToNumber as bf16ToF32, f16BitsToNumber as f16ToF32 } from "../half.js";
export { classifyGlobal } from "./globals.js";
export { getPickleAttributes, NumpyDType, PickleGlobal, PickleObject, type ReadPickleOptions } from "./values.js";
export {
  contiguousStrides,
  DTYPE_SIZE,
  makeTensor,
  tensorBytes,
  tensorToFloat32,
  tensorToTypedArray,
  TensorStorage,
  TORCH_DTYPES,
  TORCH_STORAGE_DTYPES,
  TorchTensor,
  type TensorDType,
  type TensorTypedArray,
} from "../torch-tensor.js";

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/**
 * Unpickles one pickle from `bytes` (starting at `options.offset`) and also returns the offset just
 * past its STOP opcode, for streams holding several pickles (legacy torch files, joblib).
 */
export function readPickleAt(bytes: Uint8Array, options: ReadPickleOptions = {}): { value: unknown; end: number } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = options.offset ?? 0;
  if (!Number.isSafeInteger(start) || start < 0 || start > buf.length) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected an offset within the data for options.offset but received ${String(start)}`);
  }
  const vm = new PickleVM(buf, start, options, 0);
  const value = vm.run();
  return { value, end: vm.pos };
}

/** Unpickles `bytes` (see the module comment for what values come out). */
export function readPickle(bytes: Uint8Array, options: ReadPickleOptions = {}): unknown {
  return readPickleAt(bytes, options).value;
}
