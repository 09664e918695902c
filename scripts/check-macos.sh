#!/usr/bin/env bash
# The macOS checks of CI: `cargo clippy --all-targets -D warnings` (which type-checks the whole
# tool, its tests and their dependencies) for arm64 and x86_64 Macs, with zig as the C compiler
# that ring's C code needs. Linking for macOS needs Apple's SDK, which is not here: check only.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(aarch64-apple-darwin x86_64-apple-darwin)
source scripts/setup-dist-tools.sh "${TARGETS[@]}"

for target in "${TARGETS[@]}"; do
    echo "=== cargo clippy --target $target"
    env "CC_${target//-/_}=$(zig_cc "${target%%-*}-macos")" \
        cargo clippy --all-targets --locked --target "$target" -- -D warnings
done
