#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, with gpu-bundle/ carried along
# (build it first with scripts/gpu-bundle.sh on the development machine):
#   device run: command "bash scripts/gpu-check.sh", carry ["gpu-bundle"]
# Unpacks the bundled JRE under /tmp, runs the GPU test suite (every op, fused region, model and
# random graph of codegen-cuda's tests against the interpreter, with and without CUDA graphs),
# then the GPU benchmarks, and prints a short table last. Without a GPU it says so in one line
# and exits 2.
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
timeout -k 10 ${KILN_GPU_TEST_SECONDS:-300} "${JAVA[@]}" dev.kiln.codegen.cuda.GpuSuite 2>&1 | tee "$T/tests.txt"
tests_rc=${PIPESTATUS[0]}
[[ $tests_rc == 124 || $tests_rc == 137 ]] && echo "gpu tests: timed out after ${KILN_GPU_TEST_SECONDS:-300} s" | tee -a "$T/tests.txt"
if [[ $tests_rc == 2 ]]; then exit 2; fi   # no GPU: GpuSuite printed the one line

# ---- benchmarks --------------------------------------------------------------------------
# MNISTNet rows use the hand-built graphs of codegen-cuda's tests (Models.java).
# TODO(frontend): when Kiln.compileTrainStep exists, add here the seed's MNIST training for
# 2 epochs on Fashion-MNIST (accuracy >= 0.90) with the data carried in gpu-bundle/.
timeout -k 10 ${KILN_GPU_BENCH_SECONDS:-200} "${JAVA[@]}" dev.kiln.codegen.cuda.GpuBench 2>&1 | tee "$T/bench.txt"
bench_rc=${PIPESTATUS[0]}
[[ $bench_rc == 124 || $bench_rc == 137 ]] && echo "gpu bench: timed out after ${KILN_GPU_BENCH_SECONDS:-200} s" | tee -a "$T/bench.txt"

if [[ -n ${OUT:-} && -d ${OUT:-} ]]; then cp "$T/tests.txt" "$T/bench.txt" "$OUT/" 2>/dev/null || true; fi  # full logs back to the caller
echo
echo "==== gpu-check: commit $(cat "$B/COMMIT"), $(grep -m1 '^gpu-check: device' "$T/tests.txt" | sed 's/^gpu-check: device //') ===="
grep -m1 '^gpu tests:' "$T/tests.txt" || echo "gpu tests: did not finish (exit $tests_rc)"
grep -m1 '^FIRST FAILURE' "$T/tests.txt" || true
sed -n '/^workload /,$p' "$T/bench.txt" || true
[[ $bench_rc == 0 ]] || echo "gpu bench: exit $bench_rc"
rm -rf "$T"
[[ $tests_rc == 0 && $bench_rc == 0 ]]
