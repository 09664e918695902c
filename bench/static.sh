#!/usr/bin/env bash
# The static (musl) binary of scripts/dist.sh against the glibc build of the same profile, on
# the example catalog: `list` (start-up) and `check` (parses every file, allocates more), and
# the size of each binary and wheel in dist/; medians and minimums, since a shared machine's
# load makes means noisy. Run scripts/dist.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --locked --quiet --profile dist
glibc=$PWD/target/dist/dagster-image
static=$(ls "$PWD"/dist/dagster-image-*-x86_64-unknown-linux-musl.tar.gz)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$static"
static=$(ls "$work"/dagster-image-*/dagster-image)
cp -R examples/images "$work/images"

for command in list check; do
    hyperfine --warmup 10 --min-runs 100 -N --export-json "$work/$command.json" \
        -n "glibc $command" "$glibc --images-dir $work/images $command" \
        -n "static $command" "$static --images-dir $work/images $command"
done

echo
ls -l "$glibc" | awk '{printf "glibc binary (dist profile): %.1f MiB\n", $5 / 1048576}'
for file in dist/*.tar.gz dist/*.whl; do
    ls -l "$file" | awk '{printf "%s: %.1f MiB\n", $9, $5 / 1048576}'
done
for binary in target/*-unknown-linux-musl/dist/dagster-image; do
    ls -l "$binary" | awk '{printf "%s: %.1f MiB\n", $9, $5 / 1048576}'
done
python3 - "$work" <<'PY'
import json, sys
for command in ("list", "check"):
    glibc, static = json.load(open(f"{sys.argv[1]}/{command}.json"))["results"]
    for stat in ("median", "min"):
        g, s = glibc[stat] * 1000, static[stat] * 1000
        print(f"{command} of the example catalog, {stat}: static {s:.2f} ms against glibc {g:.2f} ms ({g / s:.2f}x)")
PY
