#!/usr/bin/env bash
# Idempotently prepares what the tests need: a Docker daemon, a v2 registry on
# loopback and the local base image dagster-image/rootfs:busybox (no Docker
# registry is reachable, so the base image is built from busybox-static).
set -euo pipefail

REGISTRY_PORT="${DAGSTER_IMAGE_TEST_REGISTRY_PORT:-5000}"
REGISTRY_ADDR="127.0.0.1:$REGISTRY_PORT"
REGISTRY_DIR=/var/lib/dagster-image-registry
BASE_IMAGE=dagster-image/rootfs:busybox

source "$(dirname "$0")/lib.sh"

packages_missing() {
    local tool
    for tool in dockerd docker-registry htpasswd curl; do
        command -v "$tool" >/dev/null || return 0
    done
    # The base image needs a static busybox, and ldd fails on static binaries.
    [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1
}

if packages_missing; then
    apt_install docker.io docker-registry busybox-static apache2-utils curl
fi

# Default options work here: overlay2 on ext4, and 127.0.0.0/8 is an insecure
# registry by default, so no --insecure-registry is needed.
if ! docker info >/dev/null 2>&1; then
    if [ -e /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    setsid nohup dockerd >>/var/log/dagster-image-dockerd.log 2>&1 </dev/null &
    wait_for dockerd /var/log/dagster-image-dockerd.log docker info
fi

if ! curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; then
    serve_registry "$REGISTRY_DIR" /var/log/dagster-image-registry.log "http:
  addr: $REGISTRY_ADDR"
    wait_for registry /var/log/dagster-image-registry.log curl -fsS "http://$REGISTRY_ADDR/v2/"
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    mkdir -p "$rootfs"/{bin,etc,usr/local/bin,root,tmp}
    chmod 1777 "$rootfs/tmp"
    cp /bin/busybox "$rootfs/bin/busybox"
    # Relative links, so they resolve inside the image; `busybox --install -s`
    # would point them at the host's /usr/bin/busybox.
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . \
        | docker import --change 'CMD ["/bin/sh"]' \
            --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
            - "$BASE_IMAGE" >/dev/null
    docker run --rm "$BASE_IMAGE" sh -c 'echo ok; ls /bin | wc -l'
fi

echo "engine ready: docker $(docker version --format '{{.Server.Version}}'), registry $REGISTRY_ADDR, base image $BASE_IMAGE"
