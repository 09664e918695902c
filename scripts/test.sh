#!/usr/bin/env bash
# The test command: sets up the Docker engine, the loopback registries, the AWS peer and BuildKit
# the tests need (idempotent), then runs every unit and integration test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-engine.sh
if [ -x scripts/setup-ecr.sh ]; then scripts/setup-ecr.sh; fi
scripts/setup-untrusted-registry.sh
# BuildKit and buildx for the tests of `bake`; a checkout without ../shared skips those tests.
if [ -x ../shared/tools/buildkit/buildkit.sh ]; then scripts/setup-buildkit.sh; fi
# The images the tests built carry their run's id (`test-<pid>x<nanos>-<n>`, or `test.<pid>x...`
# in registry paths); removed once all have run, since a test removing its own raced with
# another reusing them from the build cache.
# An image pulled by digest has no tag: it goes by `repository@digest`.
remove_test_images() {
    docker image ls --digests --format '{{.Repository}} {{.Tag}} {{.Digest}}' \
        | awk '$0 ~ /test[-.][0-9]+x[0-9]+/ { print ($2 == "<none>") ? $1 "@" $3 : $1 ":" $2 }' \
        | sort -u | xargs -r docker image rm --force >/dev/null || true
}
trap remove_test_images EXIT
cargo test --locked "$@"
