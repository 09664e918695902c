#!/usr/bin/env bash
# Upstream images, measured in one run:
#  1. `status` of a catalog of 100 image-versions (10 images x 10 Python versions) on 10 distinct
#     upstream references in the loopback registry, the lookups concurrent (8 at once) against
#     one at a time (DAGSTER_IMAGE_LOOKUP_CONCURRENCY=1): straight to the registry, and through
#     the tests' proxy adding 20 ms to each request, as a registry across a network would
#     (goal: under 200 ms, at least 4x faster);
#  2. `build-all --skip-unchanged` of the example catalog (8 image-versions) when nothing moved,
#     against the binary of the commit before upstream images counted, each on a catalog it built
#     (goal: within 2x).
source "$(dirname "$0")/prelude.sh"
cargo build --release --locked --quiet --example fault_proxy
up=127.0.0.1:5000/bench-upstream-$$

# Ten upstream images, pulled back as a machine that uses them has them.
for i in $(seq 0 9); do
    ref=$up/python:3.$i-slim
    printf 'FROM dagster-image/rootfs:busybox\nRUN echo %s > /upstream\n' "$i" \
        | docker build -q -t "$ref" - >/dev/null 2>&1
    docker push -q "$ref" >/dev/null
    docker image rm "$ref" >/dev/null
    docker pull -q "$ref" >/dev/null
done

# catalog DIR HOST: 10 images of 10 versions each, version 3.<i> from HOST/.../python:3.<i>-slim.
catalog() {
    local dir=$1 host=$2 image version
    for image in $(seq 0 9); do
        mkdir -p "$dir/img$image"
        printf 'ARG UP\nFROM ${UP}\nLABEL bench=%s\n' "$image" >"$dir/img$image/Dockerfile"
        for version in $(seq 0 9); do
            printf "'3.%s':\n  docker_args:\n    UP: %s/python:3.%s-slim\n" \
                "$version" "${up/127.0.0.1:5000/$host}" "$version"
        done >"$dir/img$image/versions.yaml"
    done
}
catalog "$work/direct" 127.0.0.1:5000
"$tool" --images-dir "$work/direct" build-all -t bench -j 2 >/dev/null 2>&1

proxy_log=$work/proxy.log
target/release/examples/fault_proxy 127.0.0.1:5000 --latency-ms 20 >"$work/proxy.host" 2>"$proxy_log" &
proxy_pid=$!
trap 'kill $proxy_pid 2>/dev/null; rm -rf "$work"' EXIT
while [ ! -s "$work/proxy.host" ]; do sleep 0.1; done
proxy=$(cat "$work/proxy.host")
catalog "$work/remote" "$proxy"
for i in $(seq 0 9); do docker tag "$up/python:3.$i-slim" "$proxy/${up#*/}/python:3.$i-slim"; done
"$tool" --images-dir "$work/remote" build-all -t bench -j 2 >/dev/null 2>&1

status() { echo "$tool --images-dir $work/$1 status"; }
hyperfine --warmup 2 --min-runs 10 --export-json "$work/status.json" \
    -n "direct, concurrent" "$(status direct)" \
    -n "direct, one at a time" "DAGSTER_IMAGE_LOOKUP_CONCURRENCY=1 $(status direct)" \
    -n "+20 ms, concurrent" "$(status remote)" \
    -n "+20 ms, one at a time" "DAGSTER_IMAGE_LOOKUP_CONCURRENCY=1 $(status remote)" \
    -n "offline" "$tool --images-dir $work/direct --offline status"
"$tool" --images-dir "$work/remote" status | awk 'NR > 1 && $5 != "no" { stale++ } END { print stale + 0, "stale rows" }'

# The binary before upstream images counted, in a target folder of its own kept between runs (its dependencies build
# once).
main_src=$work/main-src
mkdir -p "$main_src"
# The commit before the one that added src/upstream.rs: the tool before upstream images counted.
before=$(git log --diff-filter=A --format=%H -- src/upstream.rs | tail -1)^
git archive "$before" | tar -x -C "$main_src"
cargo build --release --locked --quiet --manifest-path "$main_src/Cargo.toml" \
    --target-dir "$PWD/target/bench-main"
main_tool=$PWD/target/bench-main/release/dagster-image
cp -r examples/images "$work/ours"
cp -r examples/images "$work/before"
"$tool" --images-dir "$work/ours" build-all -t bench-ours >/dev/null 2>&1
"$main_tool" --images-dir "$work/before" build-all -t bench-before >/dev/null 2>&1
hyperfine --warmup 2 --min-runs 10 --export-json "$work/skip.json" \
    -n "upstream images counted" "$tool --images-dir $work/ours build-all --skip-unchanged" \
    -n "before" "$main_tool --images-dir $work/before build-all --skip-unchanged"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def medians(name):
    results = json.load(open(f"{work}/{name}.json"))["results"]
    return {r["command"]: (r["median"] * 1000, r["max"] * 1000) for r in results}
status, skip = medians("status"), medians("skip")
offline = status["offline"][0]
print("medians of the runs above:")
for where in ["direct", "+20 ms"]:
    concurrent, sequential = status[f"{where}, concurrent"][0], status[f"{where}, one at a time"][0]
    print(f"status, 100 image-versions, 10 upstream references, {where}: {concurrent:.0f} ms concurrent "
          f"vs {sequential:.0f} ms one at a time: {sequential / concurrent:.1f}x; the lookups alone "
          f"(less --offline's {offline:.0f} ms): {concurrent - offline:.0f} ms vs {sequential - offline:.0f} ms: "
          f"{(sequential - offline) / max(concurrent - offline, 1):.1f}x (goal < 200 ms, >= 4x)")
(ours, ours_max), (before, before_max) = skip["upstream images counted"], skip["before"]
print(f"build-all --skip-unchanged, nothing moved, 8 image-versions: {ours:.0f} ms vs {before:.0f} ms "
      f"before upstream images counted: {ours / before:.2f}x (goal within 2x); slowest run {ours_max:.0f} ms vs {before_max:.0f} ms")
PY
