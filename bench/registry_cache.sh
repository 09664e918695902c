#!/usr/bin/env bash
# `--registry-cache` on a fresh builder, measured in one run: python-base, whose early step takes
# 6 s (`RUN sleep 6`), is baked and pushed, its late step changed, and baked again on a builder
# whose cache was emptied in between (a buildkitd of this script's own, from
# ../shared/tools/buildkit/buildkit.sh: stopped, its state deleted, started again), as a fresh CI
# agent starts; once without the registry cache and once with it. Prints whether the early step
# ran again and the times of the second bake, and their ratio. The shared buildkitd is untouched.
# KEEP=1 keeps the work folder (its bake files and build logs) for a look afterwards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
buildkit=../shared/tools/buildkit/buildkit.sh
[ -x "$buildkit" ] || { echo "bench/registry_cache.sh needs $buildkit" >&2; exit 1; }
scripts/setup-engine.sh >/dev/null
scripts/setup-buildkit.sh >/dev/null
# The tool's own work is milliseconds here; the debug build spares a release build.
cargo build --locked --quiet
tool=$PWD/target/debug/dagster-image
work=$(mktemp -d /tmp/bench-cache.XXXXXX)
registry=127.0.0.1:5000/bench-cache-$$

# An own buildkitd: BUILDKIT_HOME in $work, on the shared daemon's unpacked binaries.
shared_bin=$(dirname "$("$buildkit" env | sed 's/.*DOCKER_CONFIG=\([^ ]*\).*/\1/')")/bin
export BUILDKIT_HOME=$work/bk
mkdir -p "$BUILDKIT_HOME/bin"
ln -s "$shared_bin"/* "$BUILDKIT_HOME/bin/"
stop_buildkitd() {
    local pid
    pid=$(cat "$BUILDKIT_HOME/buildkitd.pid" 2>/dev/null || true)
    "$buildkit" stop
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
cleanup() {
    stop_buildkitd || true
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
empty_buildkitd() {
    stop_buildkitd
    rm -rf "$BUILDKIT_HOME/root"
    "$buildkit" start --registry 127.0.0.1:5000 >/dev/null
}

cp -r examples/images "$work/images"
# dockerfile LATE: python-base with a 6 s early step of this run only and a late step LATE.
dockerfile() {
    printf '%s\n' "FROM 127.0.0.1:5000/dagster-image/rootfs:busybox" "ARG PYTHON_VERSION" \
        "RUN echo \"early step ran: \$((40+2))\" $$-$mode && sleep 6 && echo early > /early" \
        "RUN echo $1 > /late" >"$work/images/python-base/Dockerfile"
}
# bake_once TIMESTAMP [FLAG]: python-base py3.10 baked and pushed; its seconds on stdout.
bake_once() {
    (cd "$work" && "$tool" --images-dir images --registry "$registry" ${2:-} bake --push \
        --name python-base -t "$1" >"$1.json" 2>/dev/null)
    local started ended
    started=$(date +%s.%N)
    (eval "$("$buildkit" env)" && cd "$work" && docker buildx bake --builder bk --progress plain \
        -f "$1.json" python-base-py3_10 >"$1.log" 2>&1)
    ended=$(date +%s.%N)
    echo "$ended - $started" | bc
}

for mode in without with; do
    flag=$([ $mode = with ] && echo --registry-cache || true)
    dockerfile first
    empty_buildkitd
    bake_once "first-$mode" "$flag" >/dev/null
    dockerfile second
    empty_buildkitd
    seconds=$(bake_once "second-$mode" "$flag")
    ran=$(grep -q 'early step ran: 42' "$work/second-$mode.log" && echo ran || echo "did not run")
    echo "$mode --registry-cache: rebuild after a late change on an emptied builder ${seconds} s; the early step $ran"
    eval "seconds_$mode=$seconds"
done
echo "ratio: $(echo "scale=1; $seconds_without / $seconds_with" | bc)x faster with --registry-cache"
