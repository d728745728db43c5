/**
 * What every class backed by a native handle shares, so that each model file holds only what is
 * its own: the handle and its end (use after dispose throws ERR_AUDIOLM_DISPOSED, dispose is
 * idempotent), native errors re-thrown as AudioLMErrors with the caller's stack, and, for models,
 * the checked load and `await using`. The native side reports its memory to V8 itself (the wraps in
 * native/addon/model_wrap.h), so nothing here counts bytes.
 */
import { AudioLMError, invalidArgument } from "../errors.js";
import { rethrow } from "./loader.js";
import { type LoadOptions, resolveLoadOptions } from "./options.js";

/** Anything the addon hands out that must be given back. */
export interface NativeHandle {
  dispose(): void;
}

/** An object that owns one native handle until it is disposed. */
export class NativeObject<H extends NativeHandle> {
  #native: H | null;
  readonly #what: string;

  /** `what` names the object in the use-after-dispose error ("this Codec was disposed"). */
  protected constructor(handle: H, what: string) {
    this.#native = handle;
    this.#what = what;
  }

  /** The live handle; throws ERR_AUDIOLM_DISPOSED once disposed. */
  protected handle(): H {
    if (!this.#native) throw new AudioLMError("ERR_AUDIOLM_DISPOSED", `this ${this.#what} was disposed`);
    return this.#native;
  }

  /** The handle, or null once disposed (for calls that are harmless after the end, like abort). */
  protected get liveHandle(): H | null {
    return this.#native;
  }

  /** Runs a native call; its errors come back as AudioLMErrors thrown from here. */
  protected async invoke<T>(call: () => T | Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      rethrow(err);
    }
  }

  /** {@link invoke} for synchronous native calls. */
  protected invokeSync<T>(call: () => T): T {
    try {
      return call();
    } catch (err) {
      rethrow(err);
    }
  }

  /** Gives the handle back (idempotent). */
  protected release(): void {
    this.#native?.dispose();
    this.#native = null;
  }
}

/** A loaded native model: `load` checks its arguments, `dispose()` and `await using` free it. */
export class NativeModel<H extends NativeHandle> extends NativeObject<H> {
  /** Checks a loader's path and options, then loads the handle with `load` on the resolved device. */
  protected static async open<H>(
    what: string,
    path: unknown,
    opts: LoadOptions | undefined,
    load: (path: string, device: string) => Promise<H>,
  ): Promise<H> {
    if (typeof path !== "string" || path.length === 0) invalidArgument(`${what}.load path`, "a non-empty string", path);
    const { device } = resolveLoadOptions(opts, `${what}.load`);
    try {
      return await load(path, device);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Frees the native model. Idempotent; later calls throw ERR_AUDIOLM_DISPOSED. */
  async dispose(): Promise<void> {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
