#!/usr/bin/env bash
# `docker buildx bake` of the example catalog (8 image-versions) on BuildKit
# (scripts/setup-buildkit.sh) against `dagster-image build-all` on docker's classic builder,
# measured in one run:
#  cold: caches emptied before each run (`docker builder prune -af`, `buildctl prune --all`) and a
#        new first layer in python-base, so that no image of an earlier run, or of another user of
#        this docker, is a cache hit; BuildKit also pulls the root image from the loopback registry;
#  warm: the same catalog again, every build a cache hit.
# bake loads its images into docker (output `type=docker`), where build-all leaves them; bake
# --push, to the loopback registry, is measured too. It empties BuildKit's cache: do not run it
# while the tests run.
source "$(dirname "$0")/prelude.sh"
buildkit=../shared/tools/buildkit/buildkit.sh
[ -x "$buildkit" ] || { echo "bench/bake.sh needs $buildkit" >&2; exit 1; }
scripts/setup-buildkit.sh >/dev/null
# `A=a B=b PATH=dir:$PATH`: buildx's environment, for bake commands only (a `docker build` under
# its DOCKER_CONFIG would go through buildx instead of the classic builder).
buildx_env=$("$buildkit" env | sed 's/^export //')
registry=127.0.0.1:5000/bench-bake-$$
remove_images() {
    docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E -e '-bench-(classic|bake)$' \
        | xargs -r docker image rm --force >/dev/null || true
    rm -rf "$work"
}
trap remove_images EXIT

# Two copies of the catalog: BuildKit takes the root image from the registry, not from docker.
nonce_line='RUN echo nonce > /bench-nonce'
for copy in classic bake; do
    cp -r examples/images "$work/$copy"
    sed -i "/^FROM /a $nonce_line" "$work/$copy/python-base/Dockerfile"
done
sed -i 's#^FROM dagster-image/rootfs:busybox#FROM 127.0.0.1:5000/dagster-image/rootfs:busybox#' \
    "$work/bake/python-base/Dockerfile"
# renew CATALOG: a new first layer in python-base, so every build of the catalog changes.
cat >"$work/renew.sh" <<SH
#!/bin/sh
sed -i "s#^RUN echo .* > /bench-nonce\\\$#RUN echo \$(date +%s%N) > /bench-nonce#" "\$1/python-base/Dockerfile"
SH
chmod +x "$work/renew.sh"
grep -q "^RUN echo nonce > /bench-nonce$" "$work/bake/python-base/Dockerfile"

(cd "$work" && "$tool" --images-dir bake bake -t bench-bake >load.json 2>/dev/null)
(cd "$work" && "$tool" --images-dir bake --registry "$registry" bake --push -t bench-bake \
    >push.json 2>/dev/null)
classic="$tool --images-dir $work/classic build-all -t bench-classic"
load="cd $work && $buildx_env docker buildx bake --builder bk --progress quiet -f load.json"
push="cd $work && $buildx_env docker buildx bake --builder bk --progress quiet -f push.json"
prune_classic="docker builder prune -af >/dev/null && $work/renew.sh $work/classic"
prune_bake="$buildx_env buildctl prune --all >/dev/null && $work/renew.sh $work/bake"

hyperfine --runs 3 --export-json "$work/cold.json" \
    -n "build-all, classic" --prepare "$prune_classic" "$classic" \
    -n "bake, load" --prepare "$prune_bake" "$load" \
    -n "bake --push" --prepare "$prune_bake" "$push"
hyperfine --warmup 1 --runs 5 --export-json "$work/warm.json" \
    -n "build-all, classic" "$classic" -n "bake, load" "$load" -n "bake --push" "$push"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
print()
for run in ("cold", "warm"):
    results = {r["command"]: r["mean"] for r in json.load(open(f"{work}/{run}.json"))["results"]}
    classic, load, push = results["build-all, classic"], results["bake, load"], results["bake --push"]
    print(f"{run}, 8 image-versions: build-all (classic) {classic:.2f} s; bake on BuildKit, loaded "
          f"into docker {load:.2f} s ({classic / load:.2f}x), pushed {push:.2f} s ({classic / push:.2f}x)")
PY
