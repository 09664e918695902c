#!/usr/bin/env bash
# Idempotently installs what building for other platforms needs (sourced by scripts/dist.sh and
# scripts/check-macos.sh): zig (PyPI's `ziglang`) as the C compiler and linker of the other
# targets, and maturin, which builds the static binaries and wheels with it, in a venv; the Rust
# standard library of each target named. Defines `zig_cc TARGET`.
#   source scripts/setup-dist-tools.sh RUST_TARGET...
DIST_VENV=/opt/dagster-image-dist-venv
# The versions dist.sh was written against.
DIST_PIP_PACKAGES=('ziglang==0.17.1' 'maturin==1.16.0')

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
# The marker is written last, so an interrupted install is redone.
if [ ! -e "$DIST_VENV/.installed" ]; then
    python3 -m venv "$DIST_VENV"
    "$DIST_VENV/bin/pip" install --quiet "${DIST_PIP_PACKAGES[@]}"
    touch "$DIST_VENV/.installed"
fi
rustup target add "$@" >/dev/null 2>&1 || rustup target add "$@"

# zig_cc TARGET: prints the path of a C compiler for zig's TARGET (e.g. aarch64-macos), a
# wrapper that drops the flags cc-rs passes for Apple that zig does not take (`-arch X`,
# `--target=`, `-gfull`, `-mmacosx-version-min=`, the target's own -target pair).
zig_cc() {
    local target=$1 wrapper="$DIST_VENV/zig-cc/$1"
    mkdir -p "$DIST_VENV/zig-cc"
    cat >"$wrapper.tmp" <<WRAPPER
#!/usr/bin/env bash
args=()
while [ \$# -gt 0 ]; do
    case \$1 in
        -arch | -target) shift ;;
        --target=* | -gfull | -mmacosx-version-min=* | -mmacos-version-min=*) ;;
        *) args+=("\$1") ;;
    esac
    shift
done
exec "$DIST_VENV/bin/python3" -m ziglang cc -target $target "\${args[@]}"
WRAPPER
    chmod +x "$wrapper.tmp"
    mv "$wrapper.tmp" "$wrapper"
    echo "$wrapper"
}
