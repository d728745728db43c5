/** Help texts of the `audiolm` commands. */
export const HELP: Record<string, string> = {
  main: `audiolm — AudioLM-family audio generation and neural codec tools

Usage: audiolm <command> [options]

Commands:
  generate -o OUT.wav       generate audio with an AudioLM model, or speech from --text with Bark
  info                      build, backends and devices
  codec encode IN.wav       waveform → RVQ codes (.npy)
  codec decode CODES.npy    RVQ codes → waveform (.wav)
  tokenize IN.wav           waveform → semantic tokens (.npy)
  convert encodec SRC       EnCodec checkpoint → codec component (.safetensors)
  convert hubert SRC        HuBERT checkpoint + k-means → semantic tokenizer (.safetensors)
  convert kmeans SRC        k-means centroids (sklearn joblib or .npy) → component
  convert bark SRC          Bark text/coarse/fine checkpoints → three transformer components
  convert audiolm-pytorch SRC  an audiolm-pytorch stage checkpoint → transformer component

Run \`audiolm <command> --help\` for a command's options; \`audiolm --version\` prints the version.
Exit status: 0 done; 2 the command line or an input was wrong (usage, a bad file or value:
ERR_AUDIOLM_INVALID_*, UNSAFE_PICKLE, UNSUPPORTED); 1 the work failed (I/O, memory, device,
abort, internal). With --json an error is also printed to stdout as {"error": {code, message, exitStatus}}.`,
  generate: `Usage: audiolm generate -o OUT.wav [-m MODEL_DIR] [--seconds N] [--batch B] [--seed S] [--mode MODE]
                        [--prompt IN.wav] [--content SPEECH.wav] [--semantic-prompt TOKENS.npy]
                        [--acoustic-prompt CODES.npy] [--temperature-semantic X] [--temperature-coarse X] [--temperature-fine X]
                        [--top-k-STAGE K] [--top-p-STAGE P] [--guidance-semantic|coarse G]
                        [--tokens-out DIR|FILE.npz] [--pcm16] [--progress] [--threads N] [--device D] [--json]

Generates audio with an AudioLM model directory (model.json and its components). With --batch B > 1
the rows are written to OUT-0.wav … OUT-(B−1).wav (row r uses seed S + r).

  -m, --model DIR            model directory (default: models/default in the package)
  -o, --output PATH          where to write the audio (.wav, 32-bit float unless --pcm16)
  --seconds N                seconds to generate (default 5; a continuation excludes the prompt)
  --mode MODE                unconditional | continuation | acoustic (default: continuation when a
                             prompt is given, else unconditional)
  --prompt IN.wav            prompt audio: encoded by the codec (acoustic prompt) and by the model's
                             semantic tokenizer (unless --semantic-prompt gives the tokens)
  --content SPEECH.wav       acoustic mode (speaker conversion): the words of this recording in the
                             voice of --prompt (its semantic tokens are the whole output's; implies
                             --mode acoustic; --seconds defaults to its duration)
  --semantic-prompt F.npy    semantic tokens, [T] or [1, T] for all rows or [B, T] one per row
                             (acoustic mode: the tokens of the whole output)
  --acoustic-prompt F.npy    codec codes [Q, T] or [1, Q, T] (e.g. from \`audiolm codec encode\`)
  --batch B                  rows generated together (default 1, or the rows of --semantic-prompt)
  --seed S                   seed of row 0 (default: random; printed with --json)
  --temperature-semantic X   sampling temperature of a stage (0 = greedy; default: model.json)
  --temperature-coarse X
  --temperature-fine X
  --top-k-STAGE K            keep the K most likely tokens (STAGE: semantic, coarse, fine; 0 = off)
  --top-p-STAGE P            nucleus sampling: the smallest set of tokens whose probability reaches
                             P (1 = off); defaults for both: model.json
  --guidance-STAGE G         classifier-free guidance (STAGE: semantic, coarse) against the same window
                             without its history: samples from l + G·(l − l_no_history), so G > 0 holds
                             on to the prompt (its voice) more firmly (0 = off; default: model.json)
  --tokens-out DIR|X.npz     also write the tokens (a directory of .npy files or one .npz): semantic.npy [B, T], coarse.npy [B, Q', frames],
                             fine.npy [B, Q − Q', frames]
  --progress                 progress bar on stderr even when it is not a terminal
  --pcm16                    write 16-bit PCM
  --threads N                CPU threads
  --device D                 cpu (also what auto means for now), cuda or cuda:N
  --json                     print a JSON summary

Bark (a MODEL_DIR with bark.json, from \`audiolm convert bark\`):
  audiolm generate --text "..." [--text "..." ...] -m BARK_DIR [-o OUT.wav] [--voice VOICE.npz]
                   [--batch B] [--seed S] [--temperature-semantic X] [--temperature-coarse X]
                   [--temperature-fine X] [--top-k-semantic|coarse K] [--top-p-semantic|coarse P]
                   [--min-eos-p P|none] [--tokens-out DIR|FILE.npz] [--pcm16] [--threads N] [--device D] [--json]

  --text TEXT                the text to speak (repeatable: one output per --text), tokenised
                             with BARK_DIR/vocab.txt (bert-base-multilingual-cased's)
  --voice VOICE.npz          a Bark voice (history prompt: semantic_prompt, coarse_prompt, fine_prompt)
  --batch B                  outputs per text (default 1); output k (texts in order, then batch
                             rows) uses seed S + k
  --temperature-* X          semantic default 0.7, coarse 0.7, fine 0.5 (0 = greedy)
  --top-k-semantic|coarse K  keep the K most likely tokens (default off)
  --top-p-semantic|coarse P  nucleus sampling, taken before top-k on the untempered probabilities
                             as suno's code does (default off)
  --min-eos-p P|none         the semantic stage stops once the end token's probability reaches P
                             (default 0.2, as suno's); none: only on a sampled end token, which
                             lets the native sampling loop run (faster)
  -o, --output PATH          the audio (needs BARK_DIR/codec.safetensors, EnCodec 24 kHz for Bark);
                             several outputs go to OUT-0.wav, OUT-1.wav, … (texts in order, then batch)
  --tokens-out DIR|X.npz     the tokens: a .npz in Bark's voice layout (semantic_prompt, coarse_prompt,
                             fine_prompt, text_tokens; usable as --voice) or a directory of
                             text.npy, semantic.npy, coarse.npy, fine.npy; several outputs: X-0.npz …
                             or DIR/0/, DIR/1/, …
  Without a codec, give --tokens-out (and no -o).`,
  info: `Usage: audiolm info [--json]

Prints the package version, the native build, CPU kernels and threads, and CUDA devices.`,
  "codec encode": `Usage: audiolm codec encode IN.wav -m CODEC -o CODES.npy [--bandwidth KBPS | --quantizers N] [--json]

Encodes a WAV (any rate, depth, channel count; resampled to the codec's rate and mixed to its
channels) to int32 codes of shape [1, quantizers, frames]. For a codec that cuts audio into scaled
segments (EnCodec 48 kHz), the segments' frame counts and scales go to CODES.segments.json.

  -m, --model PATH      codec component (.safetensors from \`audiolm convert encodec\`)
  -o, --output PATH     where to write the codes (.npy)
  --bandwidth KBPS      target bandwidth (e.g. 6 for 8 quantizers on EnCodec 24 kHz)
  --quantizers N        number of RVQ levels (default: all)
  --threads N           CPU threads
  --json                print a JSON summary`,
  "codec decode": `Usage: audiolm codec decode CODES.npy -m CODEC -o OUT.wav [--pcm16] [--length SAMPLES] [--json]

Decodes codes of shape [quantizers, frames] or [1, quantizers, frames] (int32 or int64) to a WAV
(stereo for a stereo codec). A segmented codec also reads CODES.segments.json from beside them.

  -m, --model PATH      codec component
  -o, --output PATH     where to write the audio (.wav, 32-bit float unless --pcm16)
  --pcm16               write 16-bit PCM
  --length SAMPLES      trim the output to this many samples
  --threads N           CPU threads
  --json                print a JSON summary`,
  tokenize: `Usage: audiolm tokenize IN.wav -m TOKENIZER -o TOKENS.npy [--json]

Semantic tokens of a WAV (any rate, depth, channel count; resampled to the tokenizer's rate) as
int32 [frames].

  -m, --model PATH      semantic tokenizer (.safetensors from \`audiolm convert hubert\` or \`convert kmeans --mfcc\`)
  -o, --output PATH     where to write the tokens (.npy)
  --threads N           CPU threads
  --json                print a JSON summary`,
  "convert hubert": `Usage: audiolm convert hubert SRC --kmeans KMEANS -o OUT.safetensors [--layer L] [--config CONFIG.json]

HuBERT (Hugging Face HubertModel: model.safetensors or pytorch_model.bin with config.json beside
it; or fairseq's hubert_base_ls960.pt) plus k-means centroids (a joblib dump of a fitted
scikit-learn KMeans, a .npy [K, D], or a \`convert kmeans\` component) → one semantic tokenizer.

  --kmeans PATH         the centroids (required)
  --layer L             encoder layer whose output is clustered (default 9; 0 = before layer 1)
  --config PATH         Hugging Face config.json (default: beside SRC)
  --dtype F32|F16|BF16  storage dtype (default F32)`,
  "convert kmeans": `Usage: audiolm convert kmeans SRC -o OUT.safetensors [--mfcc]

k-means centroids from a joblib dump of a fitted scikit-learn KMeans (cluster_centers_) or a .npy
[K, D]. With --mfcc the output is a complete MFCC + k-means semantic tokenizer (39-dimensional
centroids: 13 MFCC + deltas + delta-deltas, docs/mfcc.md); otherwise a centroid component for
\`convert hubert --kmeans\`.`,
  "convert encodec": `Usage: audiolm convert encodec SRC -o OUT.safetensors [--config CONFIG.json] [--sample-rate HZ]
                               [--causal | --non-causal] [--dtype F32|F16|BF16]

Converts an EnCodec checkpoint — Meta's original layout (.th/.pt) or Hugging Face's EncodecModel
(.safetensors or pytorch_model.bin; a config.json beside it is read) — to a codec component.
Settings the weights do not contain default to the 24 kHz model's (24000 Hz, causal, reflect).`,
  "convert bark": `Usage: audiolm convert bark SRC -o OUT_DIR [--small | --large] [--dtype F32|F16|BF16] [--vocab VOCAB.txt]

Converts Bark (suno-ai/bark) checkpoints to transformer components: SRC is a directory holding
text.pt, coarse.pt and fine.pt (or the large text_2.pt, coarse_2.pt, fine_2.pt, preferred when
present) → OUT_DIR/semantic.safetensors, coarse.safetensors, fine.safetensors and bark.json
(Bark's generation constants); or one of those files → that stage only; or a Hugging Face
BarkModel directory (config.json + model.safetensors or pytorch_model.bin; its codec_model is
left out: convert EnCodec separately into OUT_DIR/codec.safetensors). The text tokenizer's
vocabulary (bert-base-multilingual-cased's vocab.txt), from --vocab or SRC/vocab.txt, is copied
to OUT_DIR/vocab.txt for \`audiolm generate --text\`.
  --small / --large     which variant to read from a directory holding both
  --vocab PATH          the vocab.txt to copy (default: SRC/vocab.txt when present)
  --dtype F32|F16|BF16  storage dtype (default F32)`,
  "convert audiolm-pytorch": `Usage: audiolm convert audiolm-pytorch SRC --config CONFIG.json -o OUT.safetensors [--dtype F32|F16|BF16]

One lucidrains/audiolm-pytorch stage checkpoint (SemanticTransformer, CoarseTransformer or
FineTransformer, the plain-residual layout of releases before 2.4.0; the trainers' {"model": ...}
file or a bare state dict) → one transformer component. Checkpoints carry no hyper-parameters:
CONFIG.json gives them with their constructor names in camelCase, e.g.
{"stage": "semantic", "dim": 1024, "depth": 6, "heads": 8, "dimHead": 64,
 "numSemanticTokens": 500}
(coarse/fine also codebookSize, numCoarseQuantizers, numFineQuantizers; maxPositions, default
2048, bounds the precomputed relative-position bias; addValueResidual, default true as theirs
since 2.2.0: set it false for a checkpoint trained without value-residual learning). Refused:
conditioning (hasCondition) and the fine stage's relative-position bias (rel_pos_bias=True).
  --config PATH         the hyper-parameters (required)
  --dtype F32|F16|BF16  storage dtype (default F32)
  --json                print the written config and token layout as JSON`,
};
