#!/usr/bin/env bash
# Multi-platform images (linux/amd64 + linux/arm64, arm64 emulated by qemu: scripts/setup-arm64.sh),
# measured in one run against the loopback registry:
#  A. `build-all` of the example catalog (8 image-versions) for two platforms against one (the
#     native amd64) and against arm64 alone, which tells how much of the two-platform time is
#     emulation; each run cold: a new first layer in python-base (whose root picks its busybox
#     by TARGETARCH) invalidates every build of the catalog, no cache is pruned;
#  B. the registry requests of `push-all` of every image of the unchanged two-platform catalog,
#     all pushed already: how many, and how many sent a blob or a manifest (PUT/POST/PATCH);
#  C. `release` of the two-platform python-base (an index) to a new repository against
#     `skopeo copy --all` of the same index to a new repository, both tags.
source "$(dirname "$0")/prelude.sh"
# Only docker is measured: set-up (which also serves podman) only when docker lacks something.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] \
    || ! docker image inspect dagster-image/rootfs:busybox-arm64 >/dev/null 2>&1; then
    scripts/setup-arm64.sh >/dev/null
fi
command -v skopeo >/dev/null || apt-get install -y -qq skopeo >/dev/null
registry=127.0.0.1:5000/bench.platforms.$$
log=/var/log/dagster-image-registry.log
ts=bench-platforms
remove_images() {
    docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E -e '-bench-platforms|bench.platforms' \
        | xargs -r docker image rm --force >/dev/null || true
    rm -rf "$work"
}
trap remove_images EXIT

cp -r examples/images "$work/images"
sed -i 's#^FROM dagster-image/rootfs:busybox$#ARG TARGETARCH=amd64\nFROM dagster-image/rootfs:busybox-${TARGETARCH}\nRUN echo nonce > /bench-nonce#' \
    "$work/images/python-base/Dockerfile"
grep -q '^RUN echo nonce > /bench-nonce$' "$work/images/python-base/Dockerfile"
cat >"$work/renew.sh" <<SH
#!/bin/sh
sed -i "s#^RUN echo .* > /bench-nonce\\\$#RUN echo \$(date +%s%N) > /bench-nonce#" "$work/images/python-base/Dockerfile"
SH
chmod +x "$work/renew.sh"
both="--platform linux/amd64 --platform linux/arm64"
build_all="$tool --images-dir $work/images build-all"

hyperfine --runs 3 --export-json "$work/build.json" --prepare "$work/renew.sh" \
    -n "one platform (amd64, native)" "$build_all -t one-$ts" \
    -n "arm64 only (emulated)" "$build_all -t arm-$ts --platform linux/arm64" \
    -n "two platforms" "$build_all -t two-$ts $both"

# B: the two-platform catalog built at $ts and pushed once; then pushed again, unchanged.
$build_all -t "$ts" $both >/dev/null 2>&1
images=$("$tool" --images-dir "$work/images" list | tr '\n' ' ')
cat >"$work/push-all.sh" <<EOF
for name in $images; do "$tool" --images-dir "$work/images" --registry "$registry" push-all --name "\$name" $both 2>/dev/null; done
EOF
bash "$work/push-all.sh" >/dev/null
before=$(stat -c %s "$log")
bash "$work/push-all.sh" >/dev/null
read -r push_requests push_writes < <(tail -c +"$((before + 1))" "$log" | python3 -c '
import sys
path = "/v2/" + sys.argv[1].split("/", 1)[1] + "/"
count = writes = 0
for line in sys.stdin:
    parts = line.split("\"")
    if len(parts) < 6 or len(parts[1].split()) < 2:
        continue
    method, target = parts[1].split()[:2]
    if target.startswith(path) or (target == "/v2/" and parts[5].startswith("dagster-image/")):
        count += 1
        writes += method in ("PUT", "POST", "PATCH")
print(count, writes)' "$registry")

# C: both copy the index python-base:py3.9-$ts and its two children inside one registry.
source_ref="$registry/python-base:py3.9-$ts"
cat >"$work/release.sh" <<EOF
"$tool" --images-dir "$work/images" --registry "$registry" release --name python-base \
    --dagster-version 1.2.3 --to "$registry/released-\$(date +%s%N)" 2>/dev/null
EOF
cat >"$work/skopeo.sh" <<EOF
to=$registry/skopeo-\$(date +%s%N)
for tag in 1.2.3 latest; do
    skopeo copy -q --all --src-tls-verify=false --dest-tls-verify=false \
        docker://$source_ref docker://\$to:\$tag >/dev/null
done
EOF
hyperfine --warmup 1 --runs 10 --export-json "$work/release.json" \
    -n "release (index copied in registry)" "bash $work/release.sh" \
    -n "skopeo copy --all" "bash $work/skopeo.sh"

python3 - "$work" "$push_requests" "$push_writes" <<'PY'
import json, sys
work, requests, writes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def means(name):
    return {r["command"]: r["mean"] for r in json.load(open(f"{work}/{name}.json"))["results"]}
build = means("build")
one, arm, two = (build[k] for k in ("one platform (amd64, native)", "arm64 only (emulated)", "two platforms"))
print(f"\nA. build-all, 8 image-versions, cold: one platform {one:.1f} s; two platforms {two:.1f} s "
      f"({two / one:.2f}x); arm64 alone {arm:.1f} s ({arm / one:.2f}x the native build): "
      f"emulation adds {arm - one:.1f} s, {max(arm - one, 0) / two:.0%} of the two-platform time")
print(f"B. push-all of the unchanged two-platform catalog (8 indexes, 16 images): {requests} "
      f"requests, {writes} of them sending a blob or a manifest")
release = means("release")
ours, skopeo = release["release (index copied in registry)"], release["skopeo copy --all"]
print(f"C. release of a two-platform index (both tags) to a new repository: {ours * 1000:.0f} ms "
      f"against skopeo copy --all {skopeo * 1000:.0f} ms: {skopeo / ours:.1f}x faster")
PY
