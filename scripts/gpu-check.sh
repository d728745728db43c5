#!/usr/bin/env bash
# One command for a session on a lent GPU machine (no Node needed): builds the native tests and
# benches with plain CMake, runs the CUDA kernel tests (GPU vs CPU), every backend op on the CUDA
# backend against the CPU's (test_backend), the whole-model tests (transformer logits and greedy
# tokens, codec encode/decode, HuBERT / MFCC tokens) on the CUDA backend (AUDIOLM_BACKEND=cuda) and on the CPU, and the
# CUDA benches, and copies every log to $OUT when it is set.
#   scripts/gpu-check.sh            # from the repository root
#   BUILD_DIR=build-gpu JOBS=16 scripts/gpu-check.sh
# Exit status: non-zero if the build or any test failed (benches report but do not fail it).
set -u -o pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-16}
LOGS=${OUT:-$BUILD_DIR/logs}
mkdir -p "$LOGS"
status=0

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1 | tee "$LOGS/device.txt"
nvcc --version 2>&1 | tail -1 | tee -a "$LOGS/device.txt"

echo "== build ($BUILD_DIR)"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if ! { cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$BUILD_DIR" -j"$JOBS" --target test_cuda bench_cuda test_ops test_backend test_transformer test_semantic test_codec; } \
     >"$LOGS/build.txt" 2>&1; then
  tail -60 "$LOGS/build.txt"
  echo "gpu-check: BUILD FAILED (full log in $LOGS/build.txt)"
  exit 1
fi
grep -q "CUDA backend ON" "$LOGS/build.txt" || echo "gpu-check: WARNING: the CUDA backend was not built (nvcc not found?)"

run_test() {  # name [backend]: runs $BUILD_DIR/tests/name (its models on backend), logs, records failure
  local log="$1${2:+_$2}"
  echo "== $1${2:+ on $2}"
  if ! AUDIOLM_BACKEND="${2:-}" timeout 300 "$BUILD_DIR/tests/$1" 2>&1 | tee "$LOGS/$log.txt"; then
    echo "gpu-check: $1${2:+ on $2} FAILED"
    status=1
  fi
}
run_test test_cuda
if command -v nvidia-smi >/dev/null && grep -q "^SKIP:" "$LOGS/test_cuda.txt"; then
  echo "gpu-check: a GPU is present but test_cuda skipped (see the SKIP reason above)"
  status=1
fi
run_test test_ops
run_test test_backend
if command -v nvidia-smi >/dev/null && grep -q "cuda backend not tested" "$LOGS/test_backend.txt"; then
  echo "gpu-check: a GPU is present but test_backend did not reach the CUDA backend (see its reason above)"
  status=1
fi
run_test test_transformer cuda
run_test test_semantic cuda
run_test test_codec cuda
run_test test_transformer

echo "== bench_cuda"
"$BUILD_DIR/bench/bench_cuda" 2>&1 | tee "$LOGS/bench_cuda.txt" || echo "gpu-check: bench_cuda exited non-zero"

# The chip's own ceilings through PyTorch (cuBLAS), for comparison with bench_cuda's table.
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  echo "== torch ceilings"
  python3 - <<'PY' 2>&1 | tee "$LOGS/torch_ceilings.txt"
import torch
def med(fn, reps=20):
    for _ in range(3): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
    return sorted(ts)[len(ts) // 2]
x = torch.randn(1 << 28, device="cuda"); y = torch.empty_like(x)
ms = med(lambda: y.copy_(x)); print(f"torch d2d copy 1 GiB: {2 * x.numel() * 4 / ms / 1e6:.1f} GB/s")
n = 8192; a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16); b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
ms = med(lambda: a @ b.T); print(f"torch bf16 gemm 8192^3: {2 * n**3 / ms / 1e9:.1f} TFLOP/s")
PY
fi

echo "== summary"
grep -h "passed, .* failed" "$LOGS"/test_*.txt
[ $status -eq 0 ] && echo "gpu-check: all tests passed" || echo "gpu-check: SOME TESTS FAILED"
exit $status
