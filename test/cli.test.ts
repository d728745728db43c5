// The `audiolm` CLI as a user runs it (the compiled dist/cli/main.js): the EnCodec parity path
// convert → encode → decode against the reference fixtures, and clean failures.
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { decodeNpy, npyToInt32 } from "../lib/formats/npy.js";
import { decodeWav, encodeWav } from "../lib/formats/wav.js";
import { fractionEqual, relL2, tempDir } from "./helpers.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const FIX = join(ROOT, "test", "fixtures");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: tmp.dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("audiolm CLI", () => {
  it("info --json describes the build", () => {
    const r = run("info", "--json");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.threads).toBeGreaterThan(0);
    expect(typeof info.cudaCompiled).toBe("boolean");
    expect(info.gpus).toBeInstanceOf(Array);
    expect(info.backends[0]).toBe("cpu");
    expect(info.backends).toHaveLength(1 + (info.cudaCompiled ? info.gpus.length : 0));
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("convert, encode and decode match the EnCodec reference", () => {
    const dir = join(FIX, "encodec", "causal");
    const model = join(tmp.dir, "causal.safetensors");
    let r = run("convert", "encodec", join(dir, "model.th"), "-o", model, "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).config.sampleRate).toBe(8000);

    const input = decodeNpy(readFileSync(join(dir, "input_0.npy"))).data as Float32Array;
    writeFileSync(join(tmp.dir, "in.wav"), encodeWav(input, 8000));
    r = run("codec", "encode", "in.wav", "-m", model, "--bandwidth", "24", "-o", "codes.npy");
    expect(r.code, r.stderr).toBe(0);
    const ours = decodeNpy(readFileSync(join(tmp.dir, "codes.npy")));
    const want = decodeNpy(readFileSync(join(dir, "codes_0_4.npy")));
    expect(ours.shape).toEqual([1, ...want.shape]);
    expect(fractionEqual(npyToInt32(ours), npyToInt32(want))).toBeGreaterThanOrEqual(0.999);

    r = run("codec", "decode", join(dir, "codes_0_4.npy"), "-m", model, "-o", "out.wav", "--json");
    expect(r.code, r.stderr).toBe(0);
    const audio = decodeWav(readFileSync(join(tmp.dir, "out.wav"))).samples;
    const ref = decodeNpy(readFileSync(join(dir, "decoded_0_4.npy"))).data as Float32Array;
    expect(relL2(audio, ref)).toBeLessThan(1e-5);
  });

  it("encodes and decodes stereo with a segmented codec (EnCodec 48 kHz's way) like the reference", () => {
    const dir = join(FIX, "encodec", "segmented");
    const model = join(tmp.dir, "segmented.safetensors");
    let r = run("convert", "encodec", join(dir, "model.th"), "-o", model);
    expect(r.code, r.stderr).toBe(0);
    const input = decodeNpy(readFileSync(join(dir, "input_0.npy"))).data as Float32Array; // [2, n]
    const n = input.length / 2;
    writeFileSync(join(tmp.dir, "st.wav"), encodeWav(input, 6000, { channels: 2 }));
    r = run("codec", "encode", "st.wav", "-m", model, "-o", "st.npy", "--json");
    expect(r.code, r.stderr).toBe(0);
    const want = decodeNpy(readFileSync(join(dir, "codes_0_3.npy")));
    expect(fractionEqual(npyToInt32(decodeNpy(readFileSync(join(tmp.dir, "st.npy")))), npyToInt32(want))).toBeGreaterThanOrEqual(0.999);
    const segs = JSON.parse(readFileSync(join(tmp.dir, "st.segments.json"), "utf8")).segments;
    expect(segs.map((g: { frames: number }) => g.frames)).toEqual([100, 100, 71]);

    r = run("codec", "decode", "st.npy", "-m", model, "-o", "st-out.wav", "--length", String(n), "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ samples: n, channels: 2 });
    const out = decodeWav(readFileSync(join(tmp.dir, "st-out.wav")), { channels: 2 });
    expect(out.channels).toBe(2);
    const ref = decodeNpy(readFileSync(join(dir, "decoded_0_3.npy"))).data as Float32Array; // [2, T]
    const T = ref.length / 2;
    const refCut = new Float32Array(2 * n);
    refCut.set(ref.subarray(0, n), 0);
    refCut.set(ref.subarray(T, T + n), n);
    expect(relL2(out.samples, refCut)).toBeLessThan(1e-5);

    // Without the segments file the decode says what it needs.
    copyFileSync(join(tmp.dir, "st.npy"), join(tmp.dir, "lone.npy"));
    r = run("codec", "decode", "lone.npy", "-m", model, "-o", "x.wav");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lone\.segments\.json/);
  });

  it("--version prints the package's version", () => {
    const r = run("--version");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
  });

  it("answers an unknown flag in one line that points to --help, and --json errors as JSON", () => {
    let r = run("tokenize", "in.wav", "--frobnicate");
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--frobnicate.*audiolm tokenize --help/);
    r = run("tokenize", "in.wav", "-m", "nope.safetensors", "-o", "t.npy", "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "ERR_AUDIOLM_IO", exitStatus: 1 } });
  });

  it("checks -o's folder before any work, and takes negative numbers to the library's check", () => {
    const missing = join(tmp.dir, "no", "such", "folder", "out.wav");
    let r = run("generate", "-o", missing, "--seconds", "1");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_ARGUMENT\].*no\/such\/folder.*does not exist/);
    r = run("codec", "decode", "codes.npy", "-m", "m.safetensors", "-o", missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not exist/);
    // Without the check this ran the whole model first; --seconds -1 was "ambiguous" to the parser.
    r = run("generate", "-o", "neg.wav", "--seconds", "-1");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_ARGUMENT\].*seconds.*number -1/);
  });

  it("fails with a usage message (exit 2) or a coded error (exit 1), never a stack trace", () => {
    let r = run();
    expect(r.code).toBe(2);
    r = run("codec", "encode", "x.wav");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing -m\/--model/);
    r = run("frobnicate");
    expect(r.code).toBe(2);
    r = run("codec", "encode", "nope.wav", "-m", "nope.safetensors", "-o", "c.npy");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_IO\].*nope\.safetensors/);
    writeFileSync(join(tmp.dir, "garbage.wav"), "RIFF....WAVEjunkjunkjunk");
    run("convert", "encodec", join(FIX, "encodec", "causal", "model.th"), "-o", "m.safetensors");
    r = run("codec", "encode", "garbage.wav", "-m", "m.safetensors", "-o", "c.npy");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_WAV\].*garbage\.wav/);
    r = run("convert", "encodec", join(FIX, "checkpoint", "hostile_torch.pt"), "-o", "h.safetensors");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_UNSAFE_PICKLE\].*system/);
    r = run("convert", "encodec", join(FIX, "checkpoint", "state_dict.pt"), "-o", "s.safetensors");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_CHECKPOINT\].*not an EnCodec checkpoint/);
    for (const x of [r.stderr]) expect(x).not.toMatch(/\n\s+at /);
  });

  it("convert bark writes three components and bark.json; bad checkpoints fail cleanly", () => {
    let r = run("convert", "bark", join(FIX, "bark"), "-o", "bark", "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out.files).sort()).toEqual(["coarse", "fine", "semantic"]);
    expect(out.configs.semantic.sharedInputEmbedding).toBe(true);
    expect(JSON.parse(readFileSync(join(tmp.dir, "bark", "bark.json"), "utf8")).semanticInferToken).toBe(129599);
    r = run("convert", "bark", join(FIX, "bark", "bad_unknown_key.pt"), "-o", "bad");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_ARGUMENT\].*stage/);
    copyFileSync(join(FIX, "bark", "bad_no_args.pt"), join(tmp.dir, "coarse.pt"));
    r = run("convert", "bark", "coarse.pt", "-o", "bad");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_CHECKPOINT\].*model_args/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    r = run("convert", "bark");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected one source/);
  });
});
