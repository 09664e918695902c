#!/usr/bin/env bash
# How long `check` takes on a generated 200-image catalog, release build, against `list` on the
# same catalog (start-up and reading the folder, the floor of any command). Goal: fast enough
# for a pre-commit hook, under 100 ms. (`check` never calls docker; the shared prelude starts the engine anyway.)
#
# Each image has two Python versions, a Dockerfile declaring its ARGs, a last_updated.yaml and
# an image.yaml; image N>1 builds on image N/2 (chains up to 8 deep), all built at one time, so
# the catalog is clean and every rule runs to the end.
source "$(dirname "$0")/prelude.sh"
catalog=$work/images

write_image() {
    local n=$1 dir base=$(($1 / 2))
    dir=$catalog/image-$(printf %03d "$n")
    mkdir -p "$dir"
    : >"$dir/versions.yaml"
    for version in 3.9 3.10; do
        printf "'%s':\n  docker_args:\n    PYTHON_VERSION: '%s'\n" "$version" "$version" >>"$dir/versions.yaml"
        if ((n > 1)); then
            printf '  base_image:\n    name: image-%03d\n    source: local\n' "$base" >>"$dir/versions.yaml"
        fi
    done
    printf "# Written by dagster-image after each successful build.\n'3.9': 2024-01-01T000000\n'3.10': 2024-01-01T000000\n" >"$dir/last_updated.yaml"
    printf 'copy: []\n' >"$dir/image.yaml"
    if ((n > 1)); then
        printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n' >"$dir/Dockerfile"
    else
        printf 'FROM python:3.10-slim\n' >"$dir/Dockerfile"
    fi
    printf 'ARG PYTHON_VERSION \\\n    DAGSTER_VERSION=dev\n# the version\nRUN echo "$DAGSTER_VERSION $PYTHON_VERSION" > /v\n' >>"$dir/Dockerfile"
}

for n in $(seq 1 200); do write_image "$n"; done
"$tool" --images-dir "$catalog" check >/dev/null

hyperfine --warmup 5 --min-runs 50 --export-json "$work/check.json" -N \
    "$tool --images-dir $catalog list" \
    "$tool --images-dir $catalog check"

python3 - "$work/check.json" <<'PY'
import json, sys
list_ms, check_ms = (r["mean"] * 1000 for r in json.load(open(sys.argv[1]))["results"])
print(f"\ncheck, 200 images: {check_ms:6.2f} ms (goal < 100 ms); list: {list_ms:.2f} ms; "
      f"check / list = {check_ms / list_ms:.1f}")
PY
