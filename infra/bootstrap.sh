#!/usr/bin/env bash
# Installs what packwatch needs from the system's package manager when it is
# missing: Java 17 and Maven run the local Kafka broker; Node.js and npm run the
# TimescaleDB compatibility target; a C compiler builds packwatch's two C extensions
# (schemas/_json_floats.c, models/_thermal.c). Python packages come from pyproject.toml.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
# The extensions compile against the Python that makes the virtual environment.
"${PYTHON:-python3}" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=(python3-dev)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "bootstrap: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: run as root, or install ${missing[*]} yourself" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: no apt-get here; install ${missing[*]} yourself" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
