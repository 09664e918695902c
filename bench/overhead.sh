#!/usr/bin/env bash
# Start-up and per-build overhead of dagster-image, measured side by side in one run:
#  1. `list` on a generated 200-image catalog (goal: under 10 ms; the Python original takes ~1 s);
#  2. `build` of one image-version against bare `docker build` of the same image, both cache hits
#     on the real engine, and with a no-op program as $DOCKER, which leaves only our own work
#     (resolving the plan, spawning, recording last_updated.yaml with fsync): goal under 10 ms;
#  3. `build-all -j1` of the example catalog (8 image-versions, cache hits) against the same 8
#     `docker build`s run one after another: the run's one engine query spread over its builds.
source "$(dirname "$0")/prelude.sh"

for i in $(seq -w 1 200); do
    dir=$work/catalog/image-$i
    mkdir -p "$dir"
    printf '3.9:\n  docker_args:\n    PYTHON_VERSION: 3.9\n3.10:\n  docker_args:\n    PYTHON_VERSION: 3.10\n' >"$dir/versions.yaml"
    printf 'FROM dagster-image/rootfs:busybox\nARG PYTHON_VERSION\nRUN echo "$PYTHON_VERSION" > /v\n' >"$dir/Dockerfile"
done
image=$work/catalog/image-001
# The no-op engine has the base image, as a real one has after the first build: it answers
# `image inspect` with the real engine's answer about it (so the tool asks no registry), and
# does nothing else.
noop=$work/noop-docker
# Its answer also names the tag the build makes: each built image's platform is checked.
docker image inspect dagster-image/rootfs:busybox | python3 -c '
import json, sys
images = json.load(sys.stdin)
images[0]["RepoTags"].append("dagster/image-001:py3.10-bench")
json.dump(images, sys.stdout)' >"$work/base.json"
printf '#!/bin/sh\n[ "$1 $2" = "image inspect" ] && cat %s\nexit 0\n' "$work/base.json" >"$noop"
chmod +x "$noop"
docker build -q -t dagster/image-001:py3.10-bench --build-arg PYTHON_VERSION=3.10 "$image" >/dev/null

hyperfine --warmup 5 --min-runs 30 --export-json "$work/list.json" -N \
    "$tool --images-dir $work/catalog list"
hyperfine --warmup 3 --min-runs 30 --export-json "$work/noop.json" -N \
    "$noop build --tag dagster/image-001:py3.10-bench --file $image/Dockerfile --build-arg PYTHON_VERSION=3.10 $image" \
    "env DOCKER=$noop $tool --images-dir $work/catalog build --name image-001 -v 3.10 -t bench"
# The very docker command the tool runs (its --label and --force-rm included), so that the
# difference is the tool's own work.
bare_build=$("$tool" --images-dir "$work/catalog" build --name image-001 -v 3.10 -t bench --dry-run \
    | grep '^docker build ')
hyperfine --warmup 3 --min-runs 30 --export-json "$work/docker.json" \
    "$bare_build >/dev/null 2>&1" \
    "$tool --images-dir $work/catalog build --name image-001 -v 3.10 -t bench >/dev/null 2>&1"

# The example catalog, built once so that every build below is a cache hit; the bare side runs
# the docker commands the tool prints for the run, one after another.
cp -r examples/images "$work/example"
"$tool" --images-dir "$work/example" build-all -t bench -j1 >/dev/null 2>&1
"$tool" --images-dir "$work/example" build-all -t bench -j1 --dry-run | grep '^docker build ' \
    | sed 's/$/ >\/dev\/null 2>\&1/' >"$work/bare-build-all.sh"
hyperfine --warmup 2 --min-runs 15 --export-json "$work/catalog.json" \
    "bash $work/bare-build-all.sh" \
    "$tool --images-dir $work/example build-all -t bench -j1 >/dev/null 2>&1"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def means(name):
    return [r["mean"] * 1000 for r in json.load(open(f"{work}/{name}.json"))["results"]]
(list_ms,) = means("list")
bare_noop, tool_noop = means("noop")
bare_docker, tool_docker = means("docker")
bare_all, tool_all = means("catalog")
print(f"\nlist, 200 images:                    {list_ms:6.2f} ms (goal < 10 ms)")
print(f"build overhead, no-op engine:        {tool_noop - bare_noop:6.2f} ms "
      f"({tool_noop:.2f} ms vs {bare_noop:.2f} ms bare; goal < 10 ms)")
print(f"build on the real engine (cached):   {tool_docker:6.1f} ms vs {bare_docker:.1f} ms for the same docker build "
      f"(+{tool_docker - bare_docker:.1f} ms, ratio {tool_docker / bare_docker:.3f}; goal within 5 ms, <= 1.10)")
print(f"build-all -j1, 8 cached builds:      {tool_all:6.1f} ms vs {bare_all:.1f} ms for the same docker builds "
      f"(+{(tool_all - bare_all) / 8:.1f} ms a build, ratio {tool_all / bare_all:.3f})")
PY
