#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, with gpu-bundle/ carried along
# (build it first with scripts/gpu-bundle.sh on the development machine):
#   device run: command "bash scripts/gpu-check.sh", carry ["gpu-bundle"]
# Unpacks the bundled JRE under /tmp, runs the GPU test suite (every op, fused region, model and
# random graph of codegen-cuda's tests against the interpreter, with and without CUDA graphs;
# the frontend's tests on cuda tensors against the CPU), then the seed's MNIST training through
# the frontend (`kiln demo --device cuda`: Kiln.compileTrainStep on Device.cuda(), batch 64,
# Adam 1e-3, seed 0, 2 epochs of Fashion-MNIST; target: test accuracy >= 0.90), then the GPU
# benchmarks, and prints a short table last. Each part has its own time limit (together about
# 9 minutes at most). Without a GPU it says so in one line and exits 2.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=$PWD/gpu-bundle
if [[ ! -f $B/jre.tar.xz ]]; then
  echo "gpu-check: no gpu-bundle/ here: run scripts/gpu-bundle.sh first and carry gpu-bundle"; exit 2
fi
export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
if ! { ls /usr/local/nvidia/lib64/libcuda.so.1 || ldconfig -p | grep -q 'libcuda.so.1'; } >/dev/null 2>&1; then
  echo "gpu-check: no GPU: the CUDA driver library libcuda.so.1 is not on this machine"; exit 2
fi
T=$(mktemp -d /tmp/kiln-gpu.XXXXXX)
tar -C "$T" -xJf "$B/jre.tar.xz"
JAVA=("$T/jre/bin/java" -Xss8m --enable-native-access=ALL-UNNAMED -Djava.library.path="$B/native" -cp "$B/lib/*")

# each part has its own time limit, so that a hung kernel still leaves time for the table
timeout -k 10 ${KILN_GPU_TEST_SECONDS:-190} "${JAVA[@]}" dev.kiln.codegen.cuda.GpuSuite 2>&1 | tee "$T/tests.txt"
tests_rc=${PIPESTATUS[0]}
[[ $tests_rc == 124 || $tests_rc == 137 ]] && echo "gpu tests: timed out after ${KILN_GPU_TEST_SECONDS:-190} s" | tee -a "$T/tests.txt"
if [[ $tests_rc == 2 ]]; then exit 2; fi   # no GPU: GpuSuite printed the one line

# ---- the seed's training, through the frontend -----------------------------------------------
timeout -k 10 ${KILN_GPU_TRAIN_SECONDS:-170} "${JAVA[@]}" dev.kiln.cli.Main demo --device cuda --epochs 2 \
  --data "$B/fashion-mnist" --out "$T/demo" 2>&1 | tee "$T/train.txt"
train_rc=${PIPESTATUS[0]}
[[ $train_rc == 124 || $train_rc == 137 ]] && echo "gpu train: timed out after ${KILN_GPU_TRAIN_SECONDS:-170} s" | tee -a "$T/train.txt"
acc=$(grep '^epoch 2: test accuracy' "$T/train.txt" | awk '{print $5}')
train_ok=0; [[ $train_rc == 0 && -n $acc ]] && awk "BEGIN{exit !($acc >= 0.90)}" && train_ok=1

# ---- benchmarks --------------------------------------------------------------------------
# GpuBench: the hand-built graphs of codegen-cuda's tests (Models.java), with replay times and
# kernel profiles; GpuTrainBench: the same MNISTNet step built by Kiln.compileTrainStep.
timeout -k 10 ${KILN_GPU_BENCH_SECONDS:-130} "${JAVA[@]}" dev.kiln.codegen.cuda.GpuBench 2>&1 | tee "$T/bench.txt"
bench_rc=${PIPESTATUS[0]}
[[ $bench_rc == 124 || $bench_rc == 137 ]] && echo "gpu bench: timed out after ${KILN_GPU_BENCH_SECONDS:-130} s" | tee -a "$T/bench.txt"
timeout -k 10 ${KILN_GPU_STEP_SECONDS:-45} "${JAVA[@]}" dev.kiln.cli.GpuTrainBench 2>&1 | tee "$T/step.txt"
step_rc=${PIPESTATUS[0]}

if [[ -n ${OUT:-} && -d ${OUT:-} ]]; then cp "$T/tests.txt" "$T/train.txt" "$T/bench.txt" "$T/step.txt" "$OUT/" 2>/dev/null || true; fi  # full logs back to the caller
echo
echo "==== gpu-check: commit $(cat "$B/COMMIT"), $(grep -m1 '^gpu-check: device' "$T/tests.txt" | sed 's/^gpu-check: device //') ===="
grep -m1 '^gpu tests:' "$T/tests.txt" || echo "gpu tests: did not finish (exit $tests_rc)"
grep -m1 '^FIRST FAILURE' "$T/tests.txt" || true
grep -E '^epoch [0-9]+: ' "$T/train.txt" | sed 's/^/train: /' || true
if (( train_ok )); then echo "gpu train: ok, test accuracy $acc after 2 epochs (target >= 0.90)"
else echo "gpu train: FAILED (exit $train_rc, accuracy after 2 epochs: ${acc:-none}; target >= 0.90)"; fi
sed -n '/^workload /,$p' "$T/bench.txt" || true
grep '^frontend MNISTNet' "$T/step.txt" || true
[[ $bench_rc == 0 ]] || echo "gpu bench: exit $bench_rc"
[[ $step_rc == 0 ]] || echo "gpu train bench: exit $step_rc"
rm -rf "$T"
[[ $tests_rc == 0 && $train_ok == 1 && $bench_rc == 0 && $step_rc == 0 ]]
