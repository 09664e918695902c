#!/usr/bin/env bash
# The tests of what scripts/dist.sh wrote into dist/ (run by .ci/run after it): each tarball's
# binary runs in a container that holds nothing but busybox (no libc, no loader; the aarch64 one
# under qemu) and lists the example catalog; each wheel installs with pip in a fresh venv, and
# its `dagster-image` command works; the bash completion parses and the man page renders. Each
# check prints `ok: <what it proves>`; the first that fails stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
missing=()
command -v man >/dev/null || missing+=(man-db)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi
scripts/setup-engine.sh >/dev/null
scripts/setup-arm64.sh >/dev/null

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
# Built from this checkout, so --version names its commit.
expected_version="dagster-image $version ($(git log -1 --date=short --format='%h %cd'))"
expected_list=$(cd examples/images && ls -d -- */ | tr -d / | sort)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R examples/images "$work/images"

ok() { echo "ok: $*"; }
fail() {
    echo "FAILED: $*" >&2
    exit 1
}

# expect WHAT EXPECTED ACTUAL
expect() {
    [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}

# in_busybox IMAGE PLATFORM DIR ARGS...: runs DIR/dagster-image ARGS in IMAGE, with the example
# catalog at /images.
in_busybox() {
    local image=$1 platform=$2 dir=$3
    shift 3
    docker run --rm --platform "$platform" -v "$(realpath "$dir"):/x:ro" -v "$work/images:/images" \
        "$image" /x/dagster-image --images-dir /images "$@"
}

busybox_has_no_libc() {
    local image=$1 platform=$2 found
    found=$(docker run --rm --platform "$platform" "$image" \
        sh -c 'ls /lib /lib64 /usr/lib 2>/dev/null; find / -xdev -name "ld-*.so*" -o -name "libc.*" 2>/dev/null')
    [ -z "$found" ] || fail "$image holds a libc or loader: $found"
}

# tarball_runs_without_libc TARGET IMAGE PLATFORM ARCH
tarball_runs_without_libc() {
    local target=$1 image=$2 platform=$3 arch=$4 name="dagster-image-$version-$1"
    [ -f "dist/$name.tar.gz" ] || fail "no dist/$name.tar.gz"
    tar -C "$work" -xzf "dist/$name.tar.gz"
    local dir="$work/$name" file
    for file in dagster-image LICENSE README.md completions/dagster-image.bash \
        completions/_dagster-image completions/dagster-image.fish completions/dagster-image.elv \
        completions/_dagster-image.ps1 man/dagster-image.1; do
        [ -s "$dir/$file" ] || fail "$name.tar.gz lacks $file"
    done
    ok "$name.tar.gz holds the binary, LICENSE, README.md, five completions and the man page"
    busybox_has_no_libc "$image" "$platform"
    expect "uname in $image" "$arch" "$(docker run --rm --platform "$platform" "$image" uname -m)"
    expect "$target --version" "$expected_version" "$(in_busybox "$image" "$platform" "$dir" --version)"
    expect "$target list" "$expected_list" "$(in_busybox "$image" "$platform" "$dir" list)"
    ok "the $target binary runs in $image ($arch, no libc): --version names the commit, list lists the example catalog"
}

completion_and_man_page_work() {
    local dir="$work/dagster-image-$version-x86_64-unknown-linux-musl"
    bash -n "$dir/completions/dagster-image.bash" || fail "the bash completion does not parse"
    ok "the bash completion parses"
    local rendered
    rendered=$(MANPAGER=cat MANWIDTH=100 man --local-file "$dir/man/dagster-image.1")
    case $rendered in
        *NAME*dagster-image*Build,*SUBCOMMANDS*build-all*"$version"*) ;;
        *) fail "the man page renders as: $rendered" ;;
    esac
    ok "the man page renders with man, naming the commands"
}

# wheel_installs_with_pip ARCH: the wheel of ARCH in a fresh venv (x86_64: installed and run
# here; aarch64: installed for its platform into a folder, and its command run under qemu).
wheel_installs_with_pip() {
    local arch=$1 wheel command
    wheel=$(ls dist/dagster_image-"$version"-py3-none-*"$arch"*.whl 2>/dev/null | head -n 1)
    [ -n "$wheel" ] || fail "no $arch wheel in dist/"
    case $wheel in
        *manylinux*musllinux*) ;;
        *) fail "$wheel is not tagged for both glibc and musl Linux" ;;
    esac
    python3 -m venv "$work/venv-$arch"
    if [ "$arch" = x86_64 ]; then
        "$work/venv-$arch/bin/pip" install --quiet --no-index "$wheel"
        command="$work/venv-$arch/bin/dagster-image"
    else
        "$work/venv-$arch/bin/pip" install --quiet --no-index --only-binary=:all: \
            --platform manylinux2014_aarch64 --target "$work/site-$arch" "$wheel"
        command="$work/site-$arch/bin/dagster-image"
    fi
    expect "$arch wheel --version" "$expected_version" "$("$command" --version)"
    expect "$arch wheel list" "$expected_list" "$("$command" --images-dir "$work/images" list)"
    ok "pip installs $(basename "$wheel") in a fresh venv: its dagster-image command runs"
}

tarball_runs_without_libc x86_64-unknown-linux-musl dagster-image/rootfs:busybox linux/amd64 x86_64
tarball_runs_without_libc aarch64-unknown-linux-musl dagster-image/rootfs:busybox-arm64 linux/arm64 aarch64
completion_and_man_page_work
wheel_installs_with_pip x86_64
wheel_installs_with_pip aarch64
echo "dist artifacts: all checks passed"
