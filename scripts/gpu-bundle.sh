#!/usr/bin/env bash
# Builds gpu-bundle/ (git-ignored): everything scripts/gpu-check.sh needs on the lent GPU
# machine, which has a GPU driver but no Java and no Maven:
#   jre.tar.xz   a jlinked JRE 25 (GPU.md's module list, plus jdk.zipfs: JUnit scans jars with it)
#   lib/*.jar    Kiln's modules, codegen-cuda's and the frontend's test classes, JCuda, picocli,
#                JUnit's launcher
#   fashion-mnist/  the four Fashion-MNIST .gz files (30 MB), for the 2-epoch training on the GPU
#   native/      libJCudaDriver-12.0.0-linux-x86_64.so from the jcuda-natives jar (the only
#                JCuda native library the driver API needs)
#   COMMIT       the commit it was built from
# Needs no GPU. Ends by checking the bundle with its own JRE (test discovery, driver probe),
# and fails when the bundle is over 60 MiB (a device call carries at most 64 MiB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -f .mvn/jdk.sh ]]; then source .mvn/jdk.sh; kiln_use_jdk; fi
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
[[ -x $JAVA_HOME/bin/jlink ]] || JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
MVN=mvn; [[ -x ./mvnw ]] && MVN=./mvnw
OUT=gpu-bundle
rm -rf "$OUT"
mkdir -p "$OUT/lib" "$OUT/native"

echo "gpu-bundle: compiling (no tests run)"
DATA=${KILN_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [[ -f $DATA/$f.gz ]] || { echo "gpu-bundle: $DATA/$f.gz is missing (apt-get install dataset-fashion-mnist, or set KILN_FASHION_MNIST=DIR)" >&2; exit 1; }
done
$MVN -B -q -pl codegen-cuda,frontend -am test-compile dependency:copy-dependencies \
  -DincludeScope=test -DexcludeGroupIds=dev.kiln -DoutputDirectory="$PWD/$OUT/deps" >/dev/null

for m in runtime ir passes codegen-jvm codegen-cuda frontend; do
  "$JAVA_HOME/bin/jar" --create --file "$OUT/lib/kiln-$m.jar" -C "$m/target/classes" .
done
for m in codegen-cuda frontend; do
  "$JAVA_HOME/bin/jar" --create --file "$OUT/lib/kiln-$m-tests.jar" -C $m/target/test-classes .
done
mkdir -p "$OUT/fashion-mnist"
cp "$DATA"/*-ubyte.gz "$OUT/fashion-mnist/"
natives=$(ls "$OUT"/deps/jcuda-natives-*-linux-x86_64.jar)
(cd "$OUT/native" && "$JAVA_HOME/bin/jar" --extract --file "../../$natives" lib/libJCudaDriver-12.0.0-linux-x86_64.so \
  && mv lib/*.so . && rmdir lib)
rm -f "$natives"
mv "$OUT"/deps/*.jar "$OUT/lib/"
rmdir "$OUT/deps" 2>/dev/null || rm -rf "$OUT/deps"

echo "gpu-bundle: jlink"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.logging,jdk.unsupported,java.management,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress zip-9 --output "$tmp/jre"
tar -C "$tmp" -cJf "$OUT/jre.tar.xz" jre
git rev-parse --short HEAD > "$OUT/COMMIT" 2>/dev/null || echo unknown > "$OUT/COMMIT"
if ! git diff --quiet HEAD 2>/dev/null; then echo "$(cat "$OUT/COMMIT")+uncommitted" > "$OUT/COMMIT"; fi

# check the bundle with its own JRE: classes resolve, tests are found, the driver probe answers
"$tmp/jre/bin/java" --enable-native-access=ALL-UNNAMED -Djava.library.path="$OUT/native" -cp "$OUT/lib/*" \
  dev.kiln.codegen.cuda.GpuSuite --list

size=$(du -sk "$OUT" | cut -f1)
echo "gpu-bundle: $OUT/ is $((size / 1024)) MiB ($(ls "$OUT/lib" | wc -l) jars, commit $(cat "$OUT/COMMIT"))"
if (( size > 60 * 1024 )); then echo "gpu-bundle: too large for one device call (64 MiB)" >&2; exit 1; fi
