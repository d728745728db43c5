// torch checkpoints (zip and legacy), pickles and numpy arrays through our restricted unpickler,
// and hostile or broken inputs. The zip layer has its own file (zip.test.ts).
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  PickleGlobal,
  PickleObject,
  NumpyDType,
  TensorStorage,
  TorchTensor,
  classifyGlobal,
  flattenStateDict,
  getPickleAttributes,
  loadTorchCheckpoint,
  loadTorchCheckpointSync,
  parseTorchCheckpoint,
  readPickle,
  readPickleAt,
  tensorBytes,
  tensorToFloat32,
  tensorToTypedArray,
} from "../lib/formats/torch-checkpoint.js";
import { openZip } from "../lib/formats/zip.js";
import { AudioLMError } from "../lib/errors.js";
import { errorOf } from "./helpers.js";

const FIX = join(import.meta.dirname, "fixtures", "checkpoint");
const fix = (name: string): string => join(FIX, name);
const bytesOf = (name: string): Buffer => readFileSync(fix(name));

interface TensorExpect {
  dtype: string;
  shape: number[];
  strides: number[];
  storageOffset: number;
  values: number[];
  requiresGrad: boolean;
}
const expected = JSON.parse(readFileSync(fix("expected.json"), "utf8")) as {
  stateDict: { tensors: Record<string, TensorExpect>; sharedStorage: string[]; metadataKeys: string[] };
  nested: { modelKeys: string[] };
  numpy: Record<string, { shape: number[]; values: number[] }>;
  bigArchive: { numel: number[]; c: number[] };
};

function asMap(v: unknown): Map<unknown, unknown> {
  expect(v).toBeInstanceOf(Map);
  return v as Map<unknown, unknown>;
}

function asTensor(v: unknown): TorchTensor {
  expect(v).toBeInstanceOf(TorchTensor);
  return v as TorchTensor;
}

function checkTensor(t: TorchTensor, e: TensorExpect, name: string): void {
  expect(t.dtype, name).toBe(e.dtype);
  expect(t.shape, name).toEqual(e.shape);
  expect(t.strides, name).toEqual(e.strides);
  expect(t.storageOffset, name).toBe(e.storageOffset);
  expect(t.requiresGrad, name).toBe(e.requiresGrad);
  expect(Array.from(tensorToFloat32(t)), name).toEqual(e.values.map((x) => Math.fround(x)));
}

function checkStateDict(sd: Map<unknown, unknown>): void {
  const names = Object.keys(expected.stateDict.tensors);
  expect([...sd.keys()]).toEqual(names); // OrderedDict order is kept
  for (const name of names) checkTensor(asTensor(sd.get(name)), expected.stateDict.tensors[name]!, name);
  const [first, ...rest] = expected.stateDict.sharedStorage.map((n) => asTensor(sd.get(n)).storage);
  for (const s of rest) expect(s).toBe(first);
  expect(asTensor(sd.get("lin.weight")).storage).not.toBe(first);
}

describe("loadTorchCheckpoint: torch.save zip archives (torch 1.13 fixtures)", () => {
  it("state_dict: f32/f16/bf16/f64/ints/bool, transposed views, storage offsets, shared storage, Parameter", async () => {
    const sd = asMap(await loadTorchCheckpoint(fix("state_dict.pt")));
    checkStateDict(sd);
    expect(asTensor(sd.get("param")).isParameter).toBe(true);
    // state_dict()._metadata arrives through BUILD on the OrderedDict
    const meta = asMap(asMap(getPickleAttributes(sd)).get("_metadata"));
    expect([...meta.keys()].sort()).toEqual(expected.stateDict.metadataKeys);
  });

  it("exact values in native types (tensorToTypedArray / tensorBytes)", () => {
    const sd = asMap(loadTorchCheckpointSync(fix("state_dict.pt")));
    expect(Array.from(tensorToTypedArray(asTensor(sd.get("steps"))) as BigInt64Array)).toEqual([1n, -2n, 2n ** 40n]);
    expect(Array.from(tensorToTypedArray(asTensor(sd.get("f64"))) as Float64Array)).toEqual([1 / 3, -2.5]);
    expect(Array.from(tensorToTypedArray(asTensor(sd.get("i32"))) as Int32Array)).toEqual([-7, 2 ** 31 - 1]);
    const bt = asTensor(sd.get("base_t"));
    expect(bt.isContiguous()).toBe(false);
    const gathered = tensorBytes(bt);
    expect(Array.from(new Float32Array(new Uint8Array(gathered).buffer))).toEqual(expected.stateDict.tensors["base_t"]!.values);
    const row = asTensor(sd.get("row_view"));
    expect(row.isContiguous()).toBe(true);
    expect(tensorBytes(row).buffer).toBe(row.storage.data.buffer); // zero-copy view
  });

  it("flattenStateDict on a nested {model, cfg, ...} checkpoint; argparse.Namespace stays opaque", async () => {
    const obj = asMap(await loadTorchCheckpoint(fix("nested.pt")));
    const flat = flattenStateDict(obj);
    expect([...flat.keys()]).toEqual(expected.nested.modelKeys.map((k) => `model.${k}`));
    expect(Array.from(tensorToFloat32(flat.get("model.lin.bias")!))).toEqual([0.25, -0.75]);
    expect([...flattenStateDict(obj.get("model")).keys()]).toEqual(expected.nested.modelKeys);
    expect([...flattenStateDict(obj.get("model"), "enc").keys()]).toEqual(expected.nested.modelKeys.map((k) => `enc.${k}`));

    const cfg = obj.get("cfg") as PickleObject;
    expect(cfg).toBeInstanceOf(PickleObject);
    expect(cfg.opaque).toBe("argparse.Namespace");
    const state = asMap(cfg.state);
    expect(state.get("lr")).toBe(0.001);
    expect(state.get("name")).toBe("tiny");
    expect(state.get("layers")).toEqual([1, 2, 3]);
    expect(state.get("flag")).toBe(true);
    expect(obj.get("epoch")).toBe(7);
    expect([...asMap(obj.get("order")).entries()]).toEqual([
      ["b", 2],
      ["a", 1],
    ]);
    const extra = asMap(obj.get("extra"));
    expect(extra.get("bytes")).toEqual(Buffer.from([0, 1, 255]));
    expect(extra.get("tuple")).toEqual([1, "a"]);
    expect(extra.get("set")).toEqual(new Set([1, 2]));
    expect(extra.get("none")).toBeNull();
    expect(extra.get("float")).toBe(1.5);
    expect(extra.get("bigint")).toBe(2n ** 70n);
    expect(extra.get("neg")).toBe(-5);
    expect(extra.get("dtype")).toEqual(new PickleGlobal("torch", "float16"));
    expect(extra.get("size")).toEqual([2, 3]);
  });

  it("a whole pickled nn.Module (torch.save(model)): classes stay opaque, parameters are found", () => {
    const model = loadTorchCheckpointSync(fix("module.pt")) as PickleObject;
    expect(model).toBeInstanceOf(PickleObject);
    expect(model.opaque).toBe("__main__.Tiny");
    const flat = flattenStateDict(model);
    expect(new Set(flat.keys())).toEqual(new Set(expected.nested.modelKeys));
    expect(Array.from(tensorToFloat32(flat.get("norm.weight")!))).toEqual([1.5, 2]);
  });

  it("legacy (torch < 1.6) stream format gives the same tensors", () => {
    const sd = asMap(loadTorchCheckpointSync(fix("legacy.pt")));
    checkStateDict(sd);
  });

  it("parseTorchCheckpoint works on bytes; plain pickles are pointed to readPickle", async () => {
    const sd = asMap(parseTorchCheckpoint(new Uint8Array(bytesOf("state_dict.pt"))));
    expect(sd.size).toBe(Object.keys(expected.stateDict.tensors).length);
    const err = await errorOf(() => parseTorchCheckpoint(bytesOf("plain_p2.pkl")));
    expect(err.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    expect(err.message).toContain("readPickle");
  });

  it("tensors pickled with plain pickle (nested legacy torch.save via _load_from_bytes)", async () => {
    const b = bytesOf("plain_tensor.pkl");
    const err = await errorOf(() => readPickle(b));
    expect(err.code).toBe("ERR_AUDIOLM_UNSUPPORTED");
    const v = asMap(readPickle(b, { loadTorchBytes: (x) => parseTorchCheckpoint(x) }));
    expect(Array.from(tensorToFloat32(asTensor(v.get("t"))))).toEqual([0, 0.5, 1, 1.5]);
  });
});

describe("hostile and broken inputs", () => {
  it("os.system pickle is rejected naming the global (protocols 2 and 0), nothing runs", async () => {
    for (const name of ["hostile_os_system.pkl", "hostile_os_system_p0.pkl"]) {
      const err = await errorOf(() => readPickle(bytesOf(name), { source: name }));
      expect(err.code).toBe("ERR_AUDIOLM_UNSAFE_PICKLE");
      expect(err.message).toMatch(/"(posix|os|nt)\.system"/);
      expect(err.message).toContain(name);
    }
  });

  it("builtins.eval is rejected", async () => {
    const err = await errorOf(() => readPickle(bytesOf("hostile_eval.pkl")));
    expect(err.code).toBe("ERR_AUDIOLM_UNSAFE_PICKLE");
    expect(err.message).toContain('"builtins.eval"');
  });

  it("a torch.save archive whose data.pkl names os.system is rejected, and loading keeps working after", async () => {
    const p = fix("hostile_torch.pt");
    const err = await errorOf(() => loadTorchCheckpoint(p));
    expect(err.code).toBe("ERR_AUDIOLM_UNSAFE_PICKLE");
    expect(err.message).toMatch(/"posix\.system"/);
    expect(err.message).toContain(p);
    checkStateDict(asMap(await loadTorchCheckpoint(fix("state_dict.pt"))));
  });

  it("truncated checkpoint and truncated pickle → ERR_AUDIOLM_INVALID_CHECKPOINT", async () => {
    const e1 = await errorOf(() => loadTorchCheckpoint(fix("truncated.pt")));
    expect(e1.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    const e2 = await errorOf(() => readPickle(bytesOf("truncated.pkl")));
    expect(e2.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    expect(e2.message).toMatch(/truncated pickle.*byte offset \d+/);
    // every prefix of a real data.pkl fails cleanly
    const pkl = openZip(bytesOf("state_dict.pt")).read("state_dict/data.pkl");
    for (let n = 0; n < pkl.length; n += 7) {
      expect(() => readPickle(pkl.subarray(0, n), { persistentLoad: () => null })).toThrow(AudioLMError);
    }
  });

  it("zip-level problems surface through loadTorchCheckpoint with the path", async () => {
    const e = await errorOf(() => loadTorchCheckpoint(fix("bad_offset.zip")));
    expect(e.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    expect(e.message).toContain("bad_offset.zip");
    const e2 = await errorOf(() => loadTorchCheckpoint(fix("zip64.zip")));
    expect(e2.message).toContain("data.pkl");
    const e3 = await errorOf(() => loadTorchCheckpoint(fix("does-not-exist.pt")));
    expect(e3.code).toBe("ERR_AUDIOLM_IO");
  });

  it("unknown opcodes, bad memo indices, stack underflow, bad lengths report the byte offset", async () => {
    const cases: Array<[number[], RegExp]> = [
      [[0x80, 0x02, 0xff], /unknown pickle opcode 0xff.*byte offset 2/],
      [[0x80, 0x02, 0x68, 0x05, 0x2e], /memo index 5.*byte offset 2/],
      [[0x80, 0x02, 0x52], /stack underflow/],
      [[0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f], /truncated/],
      [[0x80, 0x04, 0x8e, 1, 2, 3, 4, 5, 6, 7, 8], /exceeds the data/],
      [[0x80, 0x02, 0x4e], /without a STOP/],
      [[0x80, 0x02, 0x65, 0x2e], /MARK/],
      [[0x80, 0x02, 0x28, 0x4e, 0x4e, 0x4e, 0x64, 0x2e], /odd number/],
      [[0x80, 0x02, 0x4b, 0x01, 0x4e, 0x62, 0x2e], /BUILD applied to a number/],
      [[0x80, 0x02, 0x51, 0x2e], /stack underflow/],
    ];
    for (const [bytes, re] of cases) {
      const err = await errorOf(() => readPickle(Uint8Array.from(bytes)));
      expect(err.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
      expect(err.message).toMatch(re);
    }
  });

  it("classifies globals: dangerous ones rejected, data ones interpreted, others opaque", async () => {
    for (const [m, n] of [
      ["os", "system"],
      ["posix", "system"],
      ["nt", "system"],
      ["subprocess", "Popen"],
      ["builtins", "exec"],
      ["builtins", "getattr"],
      ["builtins", "__import__"],
      ["__builtin__", "eval"],
      ["sys", "modules"],
      ["importlib", "import_module"],
      ["runpy", "run_path"],
      ["shutil", "rmtree"],
      ["socket", "socket"],
      ["pickle", "loads"],
      ["functools", "partial"],
      ["operator", "attrgetter"],
      ["types", "CodeType"],
      ["torch", "load"],
      ["torch.jit", "load"],
      ["torch", "jit.load"],
      ["torch.hub", "load"],
      ["torch._utils", "_import_dotted_name"],
      ["torch", "_utils._import_dotted_name"],
      ["builtins", "set.__init__"],
      ["codecs", "open"],
      ["copyreg", "add_extension"],
      ["collections", "OrderedDict.__init__.__globals__"],
      ["ctypes", "CDLL"],
      ["numpy", "load"],
    ]) {
      expect(classifyGlobal(m!, n!), `${m}.${n}`).toBe("rejected");
    }
    expect(classifyGlobal("collections", "OrderedDict")).toBe("interpreted");
    expect(classifyGlobal("torch._utils", "_rebuild_tensor_v2")).toBe("interpreted");
    expect(classifyGlobal("numpy.core.multiarray", "_reconstruct")).toBe("interpreted");
    expect(classifyGlobal("builtins", "set")).toBe("interpreted");
    expect(classifyGlobal("argparse", "Namespace")).toBe("opaque");
    expect(classifyGlobal("omegaconf.dictconfig", "DictConfig")).toBe("opaque");
    expect(classifyGlobal("builtins", "slice")).toBe("opaque");
    // Python 3 writes `int` as __builtin__.long at protocol 2 (fairseq configs hold such type references).
    expect(classifyGlobal("__builtin__", "long")).toBe("opaque");
    expect(classifyGlobal("__builtin__", "eval")).toBe("rejected");
    expect(classifyGlobal("torch", "_utils._rebuild_tensor_v2")).toBe("interpreted");
    expect(classifyGlobal("torch._utils", "_rebuild_qtensor")).toBe("opaque");
    expect(classifyGlobal("__main__", "MyConfig")).toBe("opaque");

    // STACK_GLOBAL with a dotted dunder name is rejected at the name, before anything is called.
    const name = "OrderedDict.__init__.__globals__";
    const p = Buffer.concat([
      Buffer.from([0x80, 0x04, 0x8c, 11]),
      Buffer.from("collections"),
      Buffer.from([0x8c, name.length]),
      Buffer.from(name),
      Buffer.from([0x93, 0x2e]),
    ]);
    const err = await errorOf(() => readPickle(p));
    expect(err.code).toBe("ERR_AUDIOLM_UNSAFE_PICKLE");
    expect(err.message).toContain(`collections.${name}`);
    // extension-registry opcodes cannot be checked
    expect((await errorOf(() => readPickle(Uint8Array.from([0x80, 0x02, 0x82, 0x01, 0x2e])))).code).toBe("ERR_AUDIOLM_UNSAFE_PICKLE");
  });

  it("opaque objects only record their arguments", () => {
    // GLOBAL 'foo.bar Baz', (1, 'x'), REDUCE, then BUILD with {'k': 2}
    const p = Buffer.concat([
      Buffer.from([0x80, 0x02, 0x63]),
      Buffer.from("foo.bar\nBaz\n"),
      Buffer.from([0x4b, 1, 0x55, 1, 0x78, 0x86, 0x52, 0x7d, 0x55, 1, 0x6b, 0x4b, 2, 0x73, 0x62, 0x2e]),
    ]);
    const o = readPickle(p) as PickleObject;
    expect(o).toBeInstanceOf(PickleObject);
    expect(o.opaque).toBe("foo.bar.Baz");
    expect(o.args).toEqual([1, "x"]);
    expect(o.state).toEqual(new Map([["k", 2]]));
  });

  it("dicts are Maps: no prototype pollution from __proto__ keys", () => {
    // {'__proto__': {'polluted': 1}}
    const p = Buffer.concat([
      Buffer.from([0x80, 0x02, 0x7d, 0x55, 9]),
      Buffer.from("__proto__"),
      Buffer.from([0x7d, 0x55, 8]),
      Buffer.from("polluted"),
      Buffer.from([0x4b, 1, 0x73, 0x73, 0x2e]),
    ]);
    const m = asMap(readPickle(p));
    expect(asMap(m.get("__proto__")).get("polluted")).toBe(1);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("random byte mutations only ever raise AudioLMError (deterministic mini-fuzz)", () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pkl = openZip(bytesOf("state_dict.pt")).read("state_dict/data.pkl");
    const inputs: Array<[Buffer, (b: Buffer) => unknown]> = [
      [bytesOf("state_dict.pt"), (b) => parseTorchCheckpoint(b)],
      [bytesOf("legacy.pt"), (b) => parseTorchCheckpoint(b)],
      [pkl, (b) => readPickle(b, { persistentLoad: (pid) => makeStorage(String((pid as unknown[])[2]), 64) })],
      [bytesOf("plain_p0.pkl"), (b) => readPickle(b)],
      [bytesOf("numpy_p2.pkl"), (b) => readPickle(b)],
      [bytesOf("arrays.joblib"), (b) => readPickle(b)],
    ];
    for (const [orig, load] of inputs) {
      for (let i = 0; i < 250; i++) {
        const b = Buffer.from(orig);
        for (let k = 1 + rnd(3); k > 0; k--) b[rnd(b.length)] = rnd(256);
        try {
          for (const t of flattenStateDict(load(b)).values()) tensorToFloat32(t);
        } catch (err) {
          expect(err).toBeInstanceOf(AudioLMError);
        }
      }
    }
  });

  it("tensors that reach past their storage are rejected", async () => {
    const sd = bytesOf("state_dict.pt");
    const zip = openZip(sd);
    const pkl = Buffer.from(zip.read("state_dict/data.pkl"));
    // make the first tensor (lin.weight, 6 elements) claim storage offset 200: the BININT1 0 before its size tuple
    const at = pkl.indexOf(Buffer.from([0x51, 0x4b, 0x00]));
    expect(at).toBeGreaterThan(0);
    pkl[at + 2] = 200;
    const err = await errorOf(() =>
      readPickle(pkl, {
        persistentLoad: (pid) => {
          const [, , key, , numel] = pid as [string, unknown, string, string, number];
          return makeStorage(key, numel);
        },
      }),
    );
    expect(err.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    expect(err.message).toMatch(/extends past its storage/);
  });
});

function makeStorage(key: string, numel: number): TensorStorage {
  return new TensorStorage(key, "F32", numel, "cpu", Buffer.alloc(numel * 4));
}

describe("readPickle: plain pickles, protocols 0–5", () => {
  for (let proto = 0; proto <= 5; proto++) {
    it(`protocol ${proto}`, () => {
      const m = asMap(readPickle(bytesOf(`plain_p${proto}.pkl`)));
      expect(m.get("int")).toBe(5);
      expect(m.get("neg")).toBe(-3);
      expect(m.get("big")).toBe(2n ** 70n);
      expect(m.get("negbig")).toBe(-(2n ** 65n));
      expect(m.get("float")).toBe(1.5);
      expect(m.get("str")).toBe("h\u00e9llo \u2603");
      expect(m.get("bytes")).toEqual(Buffer.from([0, 255, 97, 98]));
      expect(m.get("list")).toEqual([1, [2, 3]]);
      expect(m.get("tuple")).toEqual([1, "a"]);
      expect(m.get("none")).toBeNull();
      expect(m.get("t")).toBe(true);
      expect(m.get("f")).toBe(false);
      expect(m.get("set")).toEqual(new Set([1, 2]));
      expect(m.get("fs")).toEqual(new Set([3]));
      expect(asMap(asMap(m.get("nested")).get("a")).get("b")).toBe(1);
      expect(m.get("shared1")).toEqual([10, 20]);
      expect(m.get("shared2")).toBe(m.get("shared1")); // memo keeps identity
      expect([...asMap(m.get("od")).keys()]).toEqual(["z", "y"]);
      expect(m.get(7)).toBe("int key");
    });
  }

  it("readPickleAt reports where a pickle ends (multi-pickle streams)", () => {
    const a = bytesOf("plain_p2.pkl");
    const both = Buffer.concat([a, Buffer.from([0x80, 0x02, 0x4b, 0x2a, 0x2e])]);
    const first = readPickleAt(both);
    expect(first.end).toBe(a.length);
    expect(readPickleAt(both, { offset: first.end }).value).toBe(42);
  });
});

describe("readPickle: numpy arrays (pickle protocols 2/4/5, joblib)", () => {
  for (const proto of [2, 4, 5]) {
    it(`protocol ${proto}: _reconstruct/_frombuffer, fortran order, big-endian, scalars; strings stay opaque`, () => {
      const m = asMap(readPickle(bytesOf(`numpy_p${proto}.pkl`)));
      for (const [name, e] of Object.entries(expected.numpy)) {
        const t = asTensor(m.get(name));
        expect(t.source).toBe("numpy");
        expect(t.shape, name).toEqual(e.shape);
        expect(Array.from(tensorToFloat32(t)), name).toEqual(e.values.map((x) => Math.fround(x)));
      }
      expect(asTensor(m.get("f")).isContiguous()).toBe(false);
      expect(Array.from(tensorToTypedArray(asTensor(m.get("i"))) as BigInt64Array)).toEqual([1n, -2n, 2n ** 40n]);
      expect(m.get("s")).toBe(2.5);
      expect(m.get("i32s")).toBe(-7);
      const strs = m.get("strs") as PickleObject;
      expect(strs).toBeInstanceOf(PickleObject);
      expect(strs.opaque).toBe("numpy.ndarray");
      expect((strs.args[1] as NumpyDType).descr).toBe("U2");
      const objs = m.get("objs") as PickleObject;
      expect(objs.opaque).toBe("numpy.ndarray");
      expect(objs.state).toEqual([1, "x"]);
    });
  }

  it("joblib.dump file: arrays written raw after NumpyArrayWrapper", () => {
    const m = asMap(readPickle(bytesOf("arrays.joblib")));
    expect(Array.from(tensorToFloat32(asTensor(m.get("w"))))).toEqual(expected.numpy["a"]!.values.map((x) => Math.fround(x)));
    expect(Array.from(tensorToFloat32(asTensor(m.get("f"))))).toEqual(expected.numpy["f"]!.values);
    expect(Array.from(tensorToTypedArray(asTensor(m.get("i"))) as BigInt64Array)).toEqual([1n, -2n, 2n ** 40n]);
    expect(asMap(m.get("meta")).get("name")).toBe("x");
  });
});

/**
 * Writes a stored zip64 archive: entries given by bytes are written, entries given by a length are
 * left as holes (a sparse file; they read as zeros). Returns the file size.
 */
