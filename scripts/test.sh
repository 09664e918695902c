#!/usr/bin/env bash
# The test command. Without arguments, as CI runs it: the tests that need no engine first (they
# fail fast, before any set-up), then sets up docker, the loopback registries, the AWS peer,
# podman and BuildKit (idempotent; a checkout without ../shared skips the BuildKit tests), runs
# every test on docker's classic builder, and the tests that read engine output on BuildKit
# (Debian's docker client, DOCKER_BUILDKIT=1) and on podman; prints each suite's wall-clock time. With arguments, sets up and runs `cargo test --locked ARGS` on
# the engine of $DAGSTER_IMAGE_TEST_ENGINE (classic, buildkit or podman; default classic).
set -euo pipefail
cd "$(dirname "$0")/.."

# Test binaries whose tests never touch an engine.
ENGINE_FREE=(--test cli_basics --test bad_input --test export --test check --test last_updated_yaml
    --test install --test layers)
# Test binaries of what reads the engine's answers (image inspect and ls, rm output, pushes and
# their up-to-date checks, logins, labels, runs): run on every engine. Not here: faults.rs,
# which pins docker's own push retries through a proxy on a port of its own (podman would need
# that port in its registries.conf), bake_buildkit.rs and registry_cache_buildkit.rs, which are
# buildx's, and prune_remote.rs, which asks only the registries (and the AWS peer), never an
# engine: the classic suite runs it.
READS_ENGINE=(--test build --test incremental --test upkeep --test push --test publish
    --test pipeline_run --test snapshot --test copies_and_interrupts --test platforms
    --test platform_push --test hardening --test upstream --test registry --test ecr
    --test real_catalog --test dockerhub --test list_and_state --test hostile_copies
    --test build_secrets --test registry_cache --test oci_labels)

set_up() {
    scripts/setup-engine.sh
    if [ -x scripts/setup-ecr.sh ]; then scripts/setup-ecr.sh; fi
    scripts/setup-untrusted-registry.sh
    scripts/setup-podman.sh
    scripts/setup-arm64.sh
    if [ -x ../shared/tools/buildkit/buildkit.sh ]; then
        scripts/setup-buildkit.sh
    else
        NOTES+=("no ../shared/tools/buildkit: these BuildKit tests were skipped (each says so):"
            $(cargo test --locked --test bake_buildkit --test registry_cache_buildkit -- --list \
                2>/dev/null | sed -n 's/: test$//p'))
    fi
}

# The images the tests built carry their run's id (`test-<pid>x<nanos>-<n>`, or `test.<pid>x...`
# in registry paths); removed once all have run, since a test removing its own raced with
# another reusing them from the build cache.
# An image pulled by digest has no tag: it goes by `repository@digest`. Arguments: the engines
# (default: docker and podman).
remove_test_images() {
    local engine engines=("$@")
    [ $# -gt 0 ] || engines=(docker podman)
    for engine in "${engines[@]}"; do
        command -v "$engine" >/dev/null || continue
        "$engine" image ls --digests --format '{{.Repository}} {{.Tag}} {{.Digest}}' 2>/dev/null \
            | awk '$0 ~ /test[-.][0-9]+x[0-9]+/ { print ($2 == "<none>") ? $1 "@" $3 : $1 ":" $2 }' \
            | sort -u | xargs -r "$engine" image rm --force >/dev/null 2>&1 || true
    done
}

# PyYAML is the oracle of what Python readers see in the YAML the tool writes.
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml

# Removes the images podman's store lists without their manifest (see hardening.rs below).
repair_podman_store() {
    local broken tries=0
    while ! podman image ls --quiet >/dev/null 2>/tmp/podman-image-ls.err && [ $tries -lt 20 ]; do
        broken=$(sed -n 's/.*for image with ID "\([0-9a-f]*\)".*/\1/p' /tmp/podman-image-ls.err | head -1)
        [ -n "$broken" ] || break
        echo "podman's store lists image $broken without its manifest: removing it" >&2
        podman rmi --force "$broken" >/dev/null 2>&1 || true
        tries=$((tries + 1))
    done
}

TIMES=()
NOTES=()
# timed LABEL ENGINE CARGO_TEST_ARGS...: cargo test on ENGINE, its wall-clock time noted.
timed() {
    local label=$1 engine=$2 started=$SECONDS
    shift 2
    echo "=== $label (engine: $engine)"
    DAGSTER_IMAGE_TEST_ENGINE=$engine cargo test --locked "$@"
    TIMES+=("$label: $((SECONDS - started)) s")
}

if [ $# -gt 0 ]; then
    set_up
    trap remove_test_images EXIT
    DAGSTER_IMAGE_TEST_ENGINE=${DAGSTER_IMAGE_TEST_ENGINE:-classic} cargo test --locked "$@"
    exit
fi

# tests/install.rs renders the man page with man.
if ! command -v man >/dev/null; then
    source scripts/lib.sh
    apt_install man-db
fi
timed "engine-free tests" none "${ENGINE_FREE[@]}"
set_up
trap remove_test_images EXIT
timed "full suite on docker, classic builder" classic
timed "engine-reading tests on docker with BuildKit" buildkit "${READS_ENGINE[@]}"
# hardening.rs kills build-all while podman builds; podman 4.3 can leave an image without its
# manifest in its store when a commit is cut off (`locating item named "manifest" for image
# with ID ...`), after which every `podman image ls` fails. So on podman it runs last, and the
# store is repaired before the suite (a machine's earlier runs may have left such an image).
PODMAN_FIRST=()
for arg in "${READS_ENGINE[@]}"; do
    [ "$arg" = hardening ] && unset 'PODMAN_FIRST[-1]' || PODMAN_FIRST+=("$arg")
done
# One test at a time on podman: podman 4.3's build cache fails with "layer not known" when
# another test removes an image while a build looks through the cached ones.
# And one test binary at a time, its images removed after it: podman reads its whole store on
# each `podman image ls` and each build, and the suite's images (some 1,500), kept to the end,
# slowed every call (`podman image ls`: 0.9 s with 487 images, 0.03 s with 4).
repair_podman_store
started=$SECONDS
echo "=== engine-reading tests on podman, one binary at a time"
for arg in "${PODMAN_FIRST[@]}" --test hardening; do
    [ "$arg" = --test ] && continue
    timed "  podman: $arg" podman --test "$arg" -- --test-threads=1
    remove_test_images podman
done
TIMES+=("engine-reading tests on podman (hardening last): $((SECONDS - started)) s")
printf '%s\n' "suite times:" "${TIMES[@]/#/  }" "${NOTES[@]/#/  }"
