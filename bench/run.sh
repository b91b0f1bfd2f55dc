#!/usr/bin/env bash
# Builds the bench module and runs JMH with the given arguments (a benchmark regex, -p, -f, ...).
#   bench/run.sh                                   all Kiln benchmarks
#   bench/run.sh SgemmBench -p threads=1           one benchmark, one parameter value
#   DJL=1 bench/run.sh DjlBench                    libtorch through DJL (profile djl)
# JMH is never part of `mvn verify`: benchmarks live in bench/src/main and only this script runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn=${MVN:-./mvnw}
profile=()
if [ "${DJL:-}" = 1 ]; then
  profile=(-Pdjl)
  # as PERF.md measured libtorch: glibc malloc tuned, or it spends most of its time in page faults
  export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296}
fi
"$mvn" -B -q "${profile[@]}" -pl bench -am package dependency:build-classpath -DskipTests \
  -Dmdep.outputFile="$PWD/bench/target/classpath.txt"  # the last module built (bench) writes it last
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
if [ $# -eq 0 ]; then set -- 'dev.kiln.bench.(SgemmBench|MnistBench|TrainStepBench|CompileBench)'; fi
exec "$java" --add-modules jdk.incubator.vector -cp "bench/target/classes:$(cat bench/target/classpath.txt)" org.openjdk.jmh.Main "$@"
