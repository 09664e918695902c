#!/usr/bin/env bash
# Idempotently prepares multi-platform builds (after scripts/setup-engine.sh): arm64 emulation
# (qemu-user-static registered with binfmt_misc, `F` flag, so containers need no qemu inside)
# and one busybox root file system per platform, tagged by architecture:
#   dagster-image/rootfs:busybox-amd64   the amd64 dagster-image/rootfs:busybox, tagged again
#   dagster-image/rootfs:busybox-arm64   Debian's arm64 busybox-static, image config arm64
# in docker, in podman when it is installed, and in the loopback registry (for BuildKit). A
# root image picks its own with `ARG TARGETARCH` + `FROM dagster-image/rootfs:busybox-${TARGETARCH}`:
# dagster-image passes TARGETARCH to every platform's build, on every engine.
set -euo pipefail

REGISTRY_ADDR="127.0.0.1:${DAGSTER_IMAGE_TEST_REGISTRY_PORT:-5000}"
BASE_IMAGE=dagster-image/rootfs:busybox

source "$(dirname "$0")/lib.sh"

if [ ! -x /usr/bin/qemu-aarch64-static ] || ! command -v update-binfmts >/dev/null; then
    apt_install qemu-user-static binfmt-support
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64
fi

# docker import records the daemon's architecture whatever --platform says (Docker 20.10), so
# the arm64 image is loaded from a docker-archive whose config says arm64.
load_arm64_rootfs() {
    local work deb sum
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
        apt-get update -qq
    fi
    (cd "$work" && apt-get download -qq busybox-static:arm64 2>/dev/null)
    deb=$(ls "$work"/busybox-static_*_arm64.deb)
    dpkg-deb -x "$deb" "$work/pkg"
    mkdir -p "$work/rootfs"/{bin,etc,usr/local/bin,root,tmp}
    chmod 1777 "$work/rootfs/tmp"
    cp "$work/pkg/bin/busybox" "$work/rootfs/bin/busybox"
    # The applet list comes from the host's busybox: the arm64 one cannot run here before
    # emulation is known to work, and both are Debian's same version.
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
    echo 'root:x:0:' >"$work/rootfs/etc/group"
    mkdir -p "$work/archive"
    tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/archive/layer.tar" .
    sum=$(sha256sum "$work/archive/layer.tar" | cut -d' ' -f1)
    cat >"$work/archive/config.json" <<EOF
{"architecture":"arm64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$sum"]},"history":[{"created_by":"scripts/setup-arm64.sh"}]}
EOF
    cat >"$work/archive/manifest.json" <<EOF
[{"Config":"config.json","RepoTags":["$BASE_IMAGE-arm64"],"Layers":["layer.tar"]}]
EOF
    tar -C "$work/archive" -c . | docker load >/dev/null
}

if ! docker image inspect "$BASE_IMAGE-amd64" >/dev/null 2>&1; then
    docker tag "$BASE_IMAGE" "$BASE_IMAGE-amd64"
fi
if ! docker image inspect "$BASE_IMAGE-arm64" >/dev/null 2>&1; then
    load_arm64_rootfs
fi
[ "$(docker run --rm --platform linux/arm64 "$BASE_IMAGE-arm64" uname -m)" = aarch64 ]

for arch in amd64 arm64; do
    if ! curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/dagster-image/rootfs/manifests/busybox-$arch"; then
        docker tag "$BASE_IMAGE-$arch" "$REGISTRY_ADDR/$BASE_IMAGE-$arch"
        docker push -q "$REGISTRY_ADDR/$BASE_IMAGE-$arch" >/dev/null
    fi
    if command -v podman >/dev/null && ! podman image exists "$BASE_IMAGE-$arch"; then
        docker save "$BASE_IMAGE-$arch" | podman load -q >/dev/null
    fi
done

echo "arm64 ready: $(cat /proc/sys/fs/binfmt_misc/qemu-aarch64 | head -1), base images $BASE_IMAGE-amd64 and $BASE_IMAGE-arm64"
