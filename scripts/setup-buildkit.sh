#!/usr/bin/env bash
# Idempotently prepares what the tests of `bake` on BuildKit need, after setup-engine.sh: a
# buildkitd and the buildx builder `bk` of ../shared/tools/buildkit/buildkit.sh (static binaries
# of BuildKit and buildx, under a private DOCKER_CONFIG), and the busybox root image in the
# loopback registry, since BuildKit pulls bases from a registry and never sees docker's images.
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY_ADDR="127.0.0.1:${DAGSTER_IMAGE_TEST_REGISTRY_PORT:-5000}"
BASE_IMAGE=dagster-image/rootfs:busybox
BUILDKIT=../shared/tools/buildkit/buildkit.sh

if [ ! -x "$BUILDKIT" ]; then
    echo "no $BUILDKIT here: the tests of bake on BuildKit will be skipped" >&2
    exit 0
fi

# The base first, with docker's own configuration (buildkit.sh env switches to its own).
remote_base="$REGISTRY_ADDR/$BASE_IMAGE"
if ! curl -fsS -o /dev/null \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_ADDR/v2/${BASE_IMAGE%%:*}/manifests/${BASE_IMAGE##*:}"; then
    docker tag "$BASE_IMAGE" "$remote_base"
    docker push "$remote_base" >/dev/null
fi

eval "$("$BUILDKIT" env)"
# `buildkit.sh start` restarts a running daemon, which would break another run's bake.
if ! docker buildx inspect bk --bootstrap >/dev/null 2>&1; then
    "$BUILDKIT" start --registry "$REGISTRY_ADDR"
fi

echo "buildkit ready: builder bk ($(buildctl --version | cut -d' ' -f3)), base image $remote_base"
