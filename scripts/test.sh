#!/usr/bin/env bash
# The test command: sets up the Docker engine, the loopback registries and the AWS peer the
# tests need (idempotent), then runs every unit and integration test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-engine.sh
if [ -x scripts/setup-ecr.sh ]; then scripts/setup-ecr.sh; fi
cargo test --locked "$@"
