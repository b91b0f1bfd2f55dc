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
if [ "${DJL:-}" = 1 ]; then profile=(-Pdjl); fi
"$mvn" -B -q "${profile[@]}" -pl bench -am package dependency:build-classpath -DskipTests \
  -Dmdep.outputFile="$PWD/bench/target/classpath.txt"  # the last module built (bench) writes it last
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
if [ $# -eq 0 ]; then set -- 'dev.kiln.bench.(SgemmBench|MnistBench|TrainStepBench)'; fi
exec "$java" --add-modules jdk.incubator.vector -cp "bench/target/classes:$(cat bench/target/classpath.txt)" org.openjdk.jmh.Main "$@"
