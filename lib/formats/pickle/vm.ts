/**
 * The pickle opcode interpreter (protocols 0–5). It only builds data: globals go through the policy
 * in ./globals.ts, and calls either run one of its interpreters or become inert records.
 */
import { AudioLMError } from "../../errors.js";
import { applyDTypeState, classifyGlobal, HANDLERS, normalizeModule, readJoblibArray, resolveNdArrayState } from "./globals.js";
import type { PickleMachine } from "./machine.js";
import { PickleReader } from "./reader.js";
import { NumpyDType, PendingNdArray, PickleGlobal, PickleObject, setPickleAttributes, type ReadPickleOptions } from "./values.js";
import { TorchTensor } from "../torch-tensor.js";

export class PickleVM extends PickleReader implements PickleMachine {
  readonly stack: unknown[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  budget: number;
  readonly maxStack: number;
  pendingUnresolved = 0;
  pendingLeaked = false;
  proto = 0;
  usedBuffers = 0;

  constructor(
    buf: Buffer,
    start: number,
    opts: ReadPickleOptions,
    readonly depth: number,
  ) {
    super(buf, start, opts);
    this.budget = 16 * buf.length + 1_000_000;
    this.maxStack = opts.maxStackDepth ?? 1 << 22;
  }

  unsafe(what: string): never {
    throw new AudioLMError(
      "ERR_AUDIOLM_UNSAFE_PICKLE",
      `${this.source}: refusing to load: the pickle references ${what}, which is not allowed in a data-only checkpoint (byte offset ${this.opPos}); nothing was executed`,
    );
  }

  spend(n: number): void {
    this.budget -= n;
    if (this.budget < 0) this.fail("pickle does too much work for its size (amplification)");
  }

  // --- stack --------------------------------------------------------------------------------
  base(): number {
    return this.marks.length ? this.marks[this.marks.length - 1]! : 0;
  }
  push(v: unknown): void {
    if (this.stack.length >= this.maxStack) this.fail(`pickle stack exceeds ${this.maxStack} entries`);
    this.stack.push(v);
  }
  pop(): unknown {
    if (this.stack.length <= this.base()) this.fail("stack underflow");
    return this.stack.pop();
  }
  top(): unknown {
    if (this.stack.length <= this.base()) this.fail("stack underflow");
    return this.stack[this.stack.length - 1];
  }
  popMark(): unknown[] {
    if (!this.marks.length) this.fail("MARK expected but not found");
    const m = this.marks.pop()!;
    return this.stack.splice(m);
  }
  deref(v: unknown): unknown {
    if (v instanceof PendingNdArray) {
      if (v.isResolved) return v.resolved;
      this.pendingLeaked = true;
    }
    return v;
  }
  memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo index ${i} was never stored`);
    return this.deref(this.memo.get(i));
  }
  memoPut(i: number): void {
    if (!Number.isSafeInteger(i) || i < 0) this.fail(`invalid memo index ${i}`);
    this.memo.set(i, this.top());
  }

  // --- globals and calls --------------------------------------------------------------------
  findGlobal(module: string, name: string): PickleGlobal {
    const mod = normalizeModule(module);
    const kind = classifyGlobal(mod, name);
    if (kind === "rejected") this.unsafe(`the global "${mod}.${name}"`);
    return new PickleGlobal(mod, name);
  }

  call(callable: unknown, args: unknown, kwargs?: unknown): unknown {
    if (!Array.isArray(args)) this.fail("call arguments are not a tuple");
    const kw = kwargs instanceof Map ? kwargs : undefined;
    if (kwargs !== undefined && kwargs !== null && !kw) this.fail("keyword arguments are not a dict");
    if (callable instanceof PickleGlobal) {
      const h = HANDLERS.get(callable.fullName);
      if (h) return h(this, args, kw);
      const o = new PickleObject(callable.fullName, args);
      if (kw && kw.size) o.kwargs = kw;
      return o;
    }
    if (callable instanceof PickleObject) return new PickleObject(`${callable.opaque}(...)`, args);
    if (callable instanceof NumpyDType) return new PickleObject(`numpy.dtype(${callable.descr})(...)`, args);
    return this.fail(`cannot call a value that is not a class or function (${typeof callable})`);
  }

  build(target: unknown, state: unknown): unknown {
    if (target instanceof PendingNdArray) {
      const value = resolveNdArrayState(this, target, state);
      target.resolved = value;
      target.isResolved = true;
      this.pendingUnresolved--;
      return value;
    }
    if (target instanceof NumpyDType) {
      applyDTypeState(this, target, state);
      return target;
    }
    if (target instanceof PickleObject) {
      if (target.state instanceof Map && state instanceof Map) for (const [k, v] of state) target.state.set(k, v);
      else target.state = state;
      if (target.opaque === "joblib.numpy_pickle.NumpyArrayWrapper") return readJoblibArray(this, target);
      return target;
    }
    if (target !== null && typeof target === "object") {
      setPickleAttributes(target, state);
      return target;
    }
    return this.fail(`BUILD applied to a ${target === null ? "None" : typeof target}`);
  }

  setItems(target: unknown, items: unknown[]): void {
    if (items.length % 2) this.fail("SETITEMS has an odd number of items");
    let map: Map<unknown, unknown>;
    if (target instanceof Map) map = target;
    else if (target instanceof PickleObject) map = target.dictItems ??= new Map();
    else return this.fail("SETITEM(S) applied to a value that is not a dict");
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  }

  appendItems(target: unknown, items: unknown[]): void {
    if (Array.isArray(target)) {
      for (const v of items) target.push(v);
    } else if (target instanceof PickleObject) {
      const list = (target.listItems ??= []);
      for (const v of items) list.push(v);
    } else if (target instanceof Set) {
      for (const v of items) target.add(v);
    } else this.fail("APPEND(S) applied to a value that is not a list");
  }

  // --- main loop ----------------------------------------------------------------------------
  run(): unknown {
    try {
      return this.loop();
    } catch (err) {
      if (err instanceof AudioLMError) throw err;
      throw new AudioLMError(
        "ERR_AUDIOLM_INVALID_CHECKPOINT",
        `${this.source}: malformed pickle (${(err as Error)?.message ?? String(err)}) (pickle opcode at byte offset ${this.opPos})`,
        { cause: err },
      );
    }
  }

  loop(): unknown {
    for (;;) {
      this.opPos = this.pos;
      if (this.pos >= this.buf.length) this.fail("truncated pickle: ended without a STOP opcode");
      const op = this.buf[this.pos++]!;
      switch (op) {
        case 0x80: // PROTO
          this.proto = this.u8();
          if (this.proto > 5) this.fail(`unsupported pickle protocol ${this.proto}`);
          break;
        case 0x95: // FRAME
          this.u64();
          break;
        case 0x2e: {
          // STOP
          const v = this.pop();
          return this.finish(v);
        }
        // --- structure
        case 0x28: // MARK
          if (this.marks.length >= this.maxStack) this.fail("too many MARKs");
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          if (this.stack.length > this.base()) this.stack.pop();
          else this.popMark();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.deref(this.top()));
          break;
        // --- memo
        case 0x70: // PUT
          this.memoPut(Number(this.parseIntText(this.line())));
          break;
        case 0x71: // BINPUT
          this.memoPut(this.u8());
          break;
        case 0x72: // LONG_BINPUT
          this.memoPut(this.u32());
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.size);
          break;
        case 0x67: // GET
          this.push(this.memoGet(Number(this.parseIntText(this.line()))));
          break;
        case 0x68: // BINGET
          this.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.push(this.memoGet(this.u32()));
          break;
        // --- atoms
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x49: {
          // INT
          const s = this.line();
          const t = s.trim();
          if (t === "01") this.push(true);
          else if (t === "00") this.push(false);
          else this.push(this.parseIntText(s));
          break;
        }
        case 0x4a: // BININT
          this.push(this.i32());
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.u16());
          break;
        case 0x4c: // LONG
          this.push(this.parseIntText(this.line()));
          break;
        case 0x8a: // LONG1
          this.push(this.decodeLong(this.bytes(this.u8())));
          break;
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0 || n > 1 << 20) this.fail(`LONG4 length ${n} is invalid`);
          this.push(this.decodeLong(this.bytes(n)));
          break;
        }
        case 0x46: // FLOAT
          this.push(this.parseFloatText(this.line()));
          break;
        case 0x47: // BINFLOAT
          this.need(8);
          this.push(this.buf.readDoubleBE(this.pos));
          this.pos += 8;
          break;
        // --- strings and bytes
        case 0x53: // STRING
          this.push(this.py2str(this.quotedString(this.line())));
          break;
        case 0x54: {
          // BINSTRING
          const n = this.i32();
          if (n < 0) this.fail("negative BINSTRING length");
          this.push(this.py2str(this.bytes(n)));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          this.push(this.py2str(this.bytes(this.u8())));
          break;
        case 0x56: // UNICODE
          this.push(this.rawUnicodeEscape(this.line()));
          break;
        case 0x58: // BINUNICODE
          this.push(this.bytes(this.u32()).toString("utf8"));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.bytes(this.u8()).toString("utf8"));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.bytes(this.u64()).toString("utf8"));
          break;
        case 0x42: // BINBYTES
          this.push(this.bytes(this.u32()));
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.bytes(this.u8()));
          break;
        case 0x8e: // BINBYTES8
          this.push(this.bytes(this.u64()));
          break;
        case 0x96: // BYTEARRAY8
          this.push(Buffer.from(this.bytes(this.u64())));
          break;
        case 0x97: {
          // NEXT_BUFFER
          const bufs = this.opts.buffers;
          if (!bufs || this.usedBuffers >= bufs.length) this.fail("NEXT_BUFFER without a matching out-of-band buffer");
          const b = bufs[this.usedBuffers++]!;
          this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
          break;
        }
        case 0x98: // READONLY_BUFFER
          this.top();
          break;
        // --- containers
        case 0x29: // EMPTY_TUPLE
          this.push([]);
          break;
        case 0x74: // TUPLE
          this.push(this.popMark());
          break;
        case 0x85: // TUPLE1
          this.push([this.pop()]);
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.push([a, b]);
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push([a, b, c]);
          break;
        }
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x6c: // LIST
          this.push(this.popMark());
          break;
        case 0x61: {
          // APPEND
          const v = this.pop();
          this.appendItems(this.top(), [v]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          this.appendItems(this.top(), items);
          break;
        }
        case 0x7d: // EMPTY_DICT
          this.push(new Map());
          break;
        case 0x64: {
          // DICT
          const items = this.popMark();
          const m = new Map();
          this.setItems(m, items);
          this.push(m);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.fail("ADDITEMS applied to a value that is not a set");
          for (const v of items) s.add(v);
          break;
        }
        case 0x91: // FROZENSET
          this.push(new Set(this.popMark()));
          break;
        // --- globals and objects
        case 0x63: {
          // GLOBAL
          const module = this.lineUtf8();
          const name = this.lineUtf8();
          this.push(this.findGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") this.fail("STACK_GLOBAL needs two strings");
          this.push(this.findGlobal(module, name));
          break;
        }
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: {
          // EXT4
          const code = op === 0x82 ? this.u8() : op === 0x83 ? this.u16() : this.i32();
          this.unsafe(`extension-registry code ${code} (a global that cannot be checked)`);
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.push(this.call(fn, args));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args, kwargs));
          break;
        }
        case 0x69: {
          // INST
          const module = this.lineUtf8();
          const name = this.lineUtf8();
          const cls = this.findGlobal(module, name);
          this.push(this.call(cls, this.popMark()));
          break;
        }
        case 0x6f: {
          // OBJ
          const items = this.popMark();
          if (!items.length) this.fail("OBJ without a class");
          this.push(this.call(items[0], items.slice(1)));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const target = this.pop();
          this.push(this.build(target, state));
          break;
        }
        case 0x51: {
          // BINPERSID
          const pid = this.pop();
          this.push(this.persistent(pid));
          break;
        }
        case 0x50: // PERSID
          this.push(this.persistent(this.line()));
          break;
        default:
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
      }
    }
  }

  persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) this.fail("persistent id found but no persistent loader was given (is this a torch checkpoint?)");
    return this.opts.persistentLoad(pid);
  }

  /** Runs a nested pickle that starts at the current position (joblib object arrays) and continues after it. */
  runNested(): unknown {
    const inner = new PickleVM(this.buf, this.pos, this.opts, this.depth + 1);
    const value = inner.run();
    this.pos = inner.pos;
    return value;
  }

  finish(v: unknown): unknown {
    if (v instanceof PendingNdArray) v = v.isResolved ? v.resolved : pendingToOpaque(v);
    if (this.pendingLeaked || this.pendingUnresolved > 0) v = fixPending(v);
    return v;
  }
}

function pendingToOpaque(p: PendingNdArray): unknown {
  return p.isResolved ? p.resolved : new PickleObject("numpy.ndarray", p.args);
}

/** Replaces PendingNdArray placeholders that escaped into containers (only hostile/odd pickles). */
function fixPending(root: unknown): unknown {
  if (root instanceof PendingNdArray) return pendingToOpaque(root);
  const seen = new Set<object>();
  const work: unknown[] = [root];
  const fix = (v: unknown): unknown => (v instanceof PendingNdArray ? pendingToOpaque(v) : v);
  while (work.length) {
    const v = work.pop();
    if (v === null || typeof v !== "object" || seen.has(v) || Buffer.isBuffer(v) || v instanceof TorchTensor) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        v[i] = fix(v[i]);
        work.push(v[i]);
      }
    } else if (v instanceof Map) {
      for (const [k, x] of v) {
        const y = fix(x);
        if (y !== x) v.set(k, y);
        work.push(k, y);
      }
    } else if (v instanceof Set) {
      const items = [...v];
      if (items.some((x) => x instanceof PendingNdArray)) {
        v.clear();
        for (const x of items) v.add(fix(x));
      }
      for (const x of v) work.push(x);
    } else if (v instanceof PickleObject) {
      v.args = fix(v.args) as unknown[];
      v.state = fix(v.state);
      work.push(v.args, v.state, v.kwargs, v.dictItems, v.listItems);
    }
  }
  return root;
}
