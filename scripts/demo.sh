#!/usr/bin/env bash
# The main job on the example catalog, from a fresh machine: set up the engine, build the tool,
# build every image as one dependency graph, push everything to the loopback registry, publish
# new unit test images (the seed's multi-step snapshot workflow, as one command), and run one of
# the images. Works on a copy of examples/images in a repository of its own, so the checkout
# stays clean.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-engine.sh
cargo build --release --locked --quiet
tool=$PWD/target/release/dagster-image
work=${DEMO_DIR:-$PWD/target/demo}
rm -rf "$work" && mkdir -p "$work/.buildkite" && cp -r examples/images "$work/images"
cd "$work"
# A repository of its own: publish records the new unit images in its .buildkite/defines.py.
git init -q .
last_built() { sed -n "s/^'3.10': //p" "images/$1/last_updated.yaml"; }
printf 'UNIT_IMAGE_VERSION = "%s"\n' "$(last_built buildkite-unit)" >.buildkite/defines.py
registry=127.0.0.1:5000/demo
set -x
"$tool" list
"$tool" build-all --dagster-version 1.2.3
for image in $("$tool" list); do "$tool" --registry "$registry" push-all --name "$image"; done
"$tool" --registry "$registry" publish -t unit
cat .buildkite/defines.py
docker run --rm "dagster/dagster-app:py3.10-$(last_built dagster-app)"
{ set +x; } 2>/dev/null
curl -fsS "http://127.0.0.1:5000/v2/demo/buildkite-unit/tags/list"
echo
echo "the catalog, its logs and snapshot files are in $work/images"
