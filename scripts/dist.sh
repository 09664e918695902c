#!/usr/bin/env bash
# Builds what is shipped into dist/, for x86_64 and aarch64 Linux:
#   dagster-image-<version>-<target>.tar.gz  the static (musl) binary, LICENSE, README.md, the
#                                            completions of five shells and the man page
#   dagster_image-<version>-py3-none-manylinux_2_17_<arch>.musllinux_1_2_<arch>.whl
#                                            a wheel whose `dagster-image` command is that same
#                                            binary, for pip and uv on any Linux (glibc or musl)
# maturin builds both with zig as C compiler and linker (profile `dist` of Cargo.toml); both are
# installed by scripts/setup-dist-tools.sh. Prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
# The binary runs on this machine, and makes the completions and man page of every target.
HOST_TARGET=x86_64-unknown-linux-musl
STAGE=target/dist-stage
started=$SECONDS

source scripts/setup-dist-tools.sh "${TARGETS[@]}"
# maturin runs zig as `python3 -m ziglang`, with the python3 it finds first.
export PATH="$DIST_VENV/bin:$PATH"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

rm -rf dist "$STAGE"
mkdir -p dist "$STAGE"

for target in "${TARGETS[@]}"; do
    echo "=== $target"
    # A static binary runs on every Linux of its architecture: the wheel says so with both tags.
    maturin build --locked --target "$target" --zig --compatibility manylinux2014 musllinux_1_2 \
        --out dist
done

# docs DIR: the completions and the man page, made by the binary of this machine.
docs() {
    local dir=$1 binary="target/$HOST_TARGET/dist/dagster-image"
    mkdir -p "$dir/completions" "$dir/man"
    "$binary" completions bash >"$dir/completions/dagster-image.bash"
    "$binary" completions zsh >"$dir/completions/_dagster-image"
    "$binary" completions fish >"$dir/completions/dagster-image.fish"
    "$binary" completions elvish >"$dir/completions/dagster-image.elv"
    "$binary" completions powershell >"$dir/completions/_dagster-image.ps1"
    "$binary" man-page >"$dir/man/dagster-image.1"
}
docs "$STAGE/docs"

for target in "${TARGETS[@]}"; do
    name="dagster-image-$version-$target"
    mkdir -p "$STAGE/$name"
    cp "target/$target/dist/dagster-image" LICENSE README.md "$STAGE/$name/"
    cp -R "$STAGE/docs/." "$STAGE/$name/"
    tar --owner=0 --group=0 -C "$STAGE" -czf "dist/$name.tar.gz" "$name"
done

ls -l dist
echo "dist.sh took $((SECONDS - started)) s"
