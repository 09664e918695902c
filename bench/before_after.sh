#!/usr/bin/env bash
# The commands of overhead.sh and registry.sh, run by two binaries side by side in one run (each
# hyperfine compares both): this tree's release build against BASE, e.g. the release build of
# the commit before a refactoring, which must change no figure.
#   bench/before_after.sh /path/to/old/dagster-image
#  1. `list` on a generated 200-image catalog;
#  2. `build` of one image-version with a no-op program as $DOCKER (only the tool's own work);
#  3. `build-all -j1` of the example catalog, 8 cached builds on the real engine;
#  4. `push-all` of the unchanged, already pushed example catalog, and its registry requests;
#  5. `release` of python-base to a new repository (copied inside the registry).
source "$(dirname "$0")/prelude.sh"
base=${1:?usage: bench/before_after.sh BASE_BINARY}
registry=127.0.0.1:5000/bench-ba.$$
log=/var/log/dagster-image-registry.log

for i in $(seq -w 1 200); do
    dir=$work/catalog/image-$i
    mkdir -p "$dir"
    printf '3.9:\n  docker_args:\n    PYTHON_VERSION: 3.9\n3.10:\n  docker_args:\n    PYTHON_VERSION: 3.10\n' >"$dir/versions.yaml"
    printf 'FROM dagster-image/rootfs:busybox\nARG PYTHON_VERSION\nRUN echo "$PYTHON_VERSION" > /v\n' >"$dir/Dockerfile"
done
noop=$work/noop-docker
# Its answer also names the tag the build makes: each built image's platform is checked.
docker image inspect dagster-image/rootfs:busybox | python3 -c '
import json, sys
images = json.load(sys.stdin)
images[0]["RepoTags"].append("dagster/image-001:py3.10-bench")
json.dump(images, sys.stdout)' >"$work/base.json"
printf '#!/bin/sh\n[ "$1 $2" = "image inspect" ] && cat %s\nexit 0\n' "$work/base.json" >"$noop"
chmod +x "$noop"
cp -r examples/images "$work/example"
"$tool" --images-dir "$work/example" build-all -t bench -j1 >/dev/null 2>&1
images=$("$tool" --images-dir "$work/example" list | tr '\n' ' ')
for name in $images; do
    "$tool" --images-dir "$work/example" --registry "$registry" push-all --name "$name" >/dev/null 2>&1
done

# Each command of one binary, as a script, so that hyperfine and the request count run the same.
for side in before after; do
    bin=$tool
    [ "$side" = before ] && bin=$base
    echo "for name in $images; do $bin --images-dir $work/example --registry $registry push-all --name \$name 2>/dev/null; done" \
        >"$work/push-$side.sh"
    echo "$bin --images-dir $work/example --registry $registry release --name python-base --dagster-version 1.2.3 --to $registry/released-\$(date +%s%N) 2>/dev/null" \
        >"$work/release-$side.sh"
done

# requests SCRIPT: runs SCRIPT once and prints how many requests it made to the benchmark's
# repositories, `/v2/` pings under the tool's user agent included.
requests() {
    local before
    before=$(stat -c %s "$log")
    bash "$work/$1" >/dev/null
    tail -c +"$((before + 1))" "$log" | python3 -c '
import sys
path = "/v2/" + sys.argv[1].split("/", 1)[1] + "/"
count = 0
for line in sys.stdin:
    parts = line.split("\"")
    if len(parts) < 6 or len(parts[1].split()) < 2:
        continue
    target = parts[1].split()[1]
    if target.startswith(path) or (target == "/v2/" and parts[5].startswith("dagster-image/")):
        count += 1
print(count)' "$registry"
}
push_before=$(requests push-before.sh)
push_after=$(requests push-after.sh)

hyperfine --warmup 5 --min-runs 30 -N --export-json "$work/list.json" \
    -n before "$base --images-dir $work/catalog list" \
    -n after "$tool --images-dir $work/catalog list"
hyperfine --warmup 3 --min-runs 30 -N --export-json "$work/noop.json" \
    -n before "env DOCKER=$noop $base --images-dir $work/catalog build --name image-001 -v 3.10 -t bench" \
    -n after "env DOCKER=$noop $tool --images-dir $work/catalog build --name image-001 -v 3.10 -t bench"
hyperfine --warmup 2 --min-runs 15 --export-json "$work/catalog.json" \
    -n before "$base --images-dir $work/example build-all -t bench -j1 >/dev/null 2>&1" \
    -n after "$tool --images-dir $work/example build-all -t bench -j1 >/dev/null 2>&1"
hyperfine --warmup 1 --runs 10 --export-json "$work/push.json" \
    -n before "bash $work/push-before.sh" -n after "bash $work/push-after.sh"
hyperfine --warmup 1 --runs 10 --export-json "$work/release.json" \
    -n before "bash $work/release-before.sh" -n after "bash $work/release-after.sh"

python3 - "$work" "$push_before" "$push_after" <<'PY'
import json, sys
work, push_before, push_after = sys.argv[1], sys.argv[2], sys.argv[3]
def line(name, what):
    before, after = [r["mean"] * 1000 for r in json.load(open(f"{work}/{name}.json"))["results"]]
    print(f"{what:<40} before {before:8.2f} ms  after {after:8.2f} ms  after/before {after / before:.3f}")
print()
line("list", "list, 200 images")
line("noop", "build, no-op engine")
line("catalog", "build-all -j1, 8 cached builds")
line("push", "push-all, unchanged catalog")
line("release", "release to a new repository")
print(f"{'push-all registry requests':<40} before {push_before:>8}     after {push_after:>8}")
PY
