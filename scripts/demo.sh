#!/usr/bin/env bash
# The main job on the example catalog, from a fresh machine: set up the engine, build the tool,
# build every image as one dependency graph, snapshot the unit requirements, push everything
# to the loopback registry, and run one of the images. Works on a copy of examples/images, so
# the checkout stays clean.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-engine.sh
cargo build --release --locked --quiet
tool=$PWD/target/release/dagster-image
work=${DEMO_DIR:-$PWD/target/demo}
rm -rf "$work" && mkdir -p "$work" && cp -r examples/images "$work/images"
cd "$work"
registry=127.0.0.1:5000/demo
set -x
"$tool" list
"$tool" build-all --dagster-version 1.2.3
"$tool" snapshot -t unit
"$tool" build-all --name buildkite-unit
for image in $("$tool" list); do "$tool" --registry "$registry" push-all --name "$image"; done
{ set +x; } 2>/dev/null
timestamp=$(sed -n "s/^'3.10': //p" images/dagster-app/last_updated.yaml)
docker run --rm "dagster/dagster-app:py3.10-$timestamp"
curl -fsS "http://127.0.0.1:5000/v2/demo/dagster-app/tags/list"
echo
echo "the catalog, its logs and snapshot files are in $work/images"
