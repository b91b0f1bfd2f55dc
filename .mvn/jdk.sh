# shellcheck shell=bash
# Finds a JDK that can build and run Kiln (25 or newer) and exports JAVA_HOME to it.
# Sourced by ./kiln and .ci/run, so that both pick the same JDK; ./mvnw then uses JAVA_HOME.
# Order: $JAVA_HOME, the `java` on PATH, /usr/lib/jvm/temurin-25-jdk-amd64, any other JDK under
# /usr/lib/jvm or /Library/Java/JavaVirtualMachines. Reads each JDK's `release` file rather than
# starting it, to keep ./kiln fast.

KILN_MIN_JAVA=25

# Prints the feature version (17, 25, ...) of the JDK at home $1; fails if it is no JDK.
kiln_java_feature() {
  local home=$1 v=
  [[ -x $home/bin/java ]] || return 1
  if [[ -r $home/release ]]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$home/release")
  fi
  if [[ -z $v ]]; then
    v=$("$home/bin/java" -version 2>&1 | sed -n '1s/.* version "\([0-9][0-9]*\).*/\1/p')
  fi
  [[ -n $v ]] || return 1
  echo "$v"
}

# Exports JAVA_HOME to the first JDK >= 25; prints a one-line error and fails if there is none.
kiln_use_jdk() {
  local candidates=() home v java
  [[ -n ${JAVA_HOME:-} ]] && candidates+=("$JAVA_HOME")
  if java=$(command -v java 2>/dev/null); then
    java=$(readlink -f "$java" 2>/dev/null || echo "$java")
    candidates+=("${java%/bin/java}")
  fi
  candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*
               /Library/Java/JavaVirtualMachines/*/Contents/Home)
  for home in "${candidates[@]}"; do
    v=$(kiln_java_feature "$home") || continue
    if (( v >= KILN_MIN_JAVA )); then
      export JAVA_HOME=$home
      return 0
    fi
  done
  echo "kiln: error: no JDK $KILN_MIN_JAVA or newer found (JAVA_HOME=${JAVA_HOME:-unset});" \
       "install one and point JAVA_HOME at it" >&2
  return 1
}
