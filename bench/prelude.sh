# Sourced by the benchmarks: from the repository root, with the engine up, hyperfine installed
# and a release build, sets $tool (the binary) and $work (a scratch folder removed on exit).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-engine.sh >/dev/null
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --release --locked --quiet
tool=$PWD/target/release/dagster-image
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
