#!/usr/bin/env bash
# Idempotently prepares podman for the tests (after scripts/setup-engine.sh, whose docker holds
# the base image and whose registry runs on loopback): Debian's podman, default ulimits that a
# machine without CAP_SYS_RESOURCE can grant, the loopback registry as insecure (plain HTTP),
# and the base image dagster-image/rootfs:busybox copied over from docker.
set -euo pipefail

REGISTRY_ADDR="127.0.0.1:${DAGSTER_IMAGE_TEST_REGISTRY_PORT:-5000}"
BASE_IMAGE=dagster-image/rootfs:busybox
CONTAINERS_CONF=/etc/containers/containers.conf
REGISTRIES_CONF=/etc/containers/registries.conf

source "$(dirname "$0")/lib.sh"

if ! command -v podman >/dev/null; then
    apt_install podman
fi

# podman's default nofile/nproc ulimits need CAP_SYS_RESOURCE to raise; these are within reach.
mkdir -p /etc/containers
ULIMITS='default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]'
if ! grep -q '^default_ulimits' "$CONTAINERS_CONF" 2>/dev/null; then
    # A TOML table is declared once: add to the [containers] table when there is one.
    if grep -q '^\[containers\]' "$CONTAINERS_CONF" 2>/dev/null; then
        sed -i "/^\[containers\]/a $ULIMITS" "$CONTAINERS_CONF"
    else
        printf '\n[containers]\n%s\n' "$ULIMITS" >>"$CONTAINERS_CONF"
    fi
fi

if ! grep -q "^location = \"$REGISTRY_ADDR\"" "$REGISTRIES_CONF" 2>/dev/null; then
    printf '\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY_ADDR" >>"$REGISTRIES_CONF"
fi

# An image store that podman cannot list (an image without its manifest, left by a podman killed
# in the middle of a commit) fails every later test: this is a test machine, start it afresh.
if ! podman image ls >/dev/null 2>&1; then
    echo "podman's image store is damaged ($(podman image ls 2>&1 | tail -n 1)); resetting it" >&2
    podman system reset --force >/dev/null
fi

# podman names it localhost/dagster-image/rootfs:busybox; a FROM of the short name finds it
# among local images before any registry is asked.
if ! podman image exists "$BASE_IMAGE"; then
    docker save "$BASE_IMAGE" | podman load >/dev/null
fi
podman run --rm "$BASE_IMAGE" true

echo "podman ready: podman $(podman version --format '{{.Client.Version}}'), registry $REGISTRY_ADDR, base image $BASE_IMAGE"
