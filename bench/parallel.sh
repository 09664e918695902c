#!/usr/bin/env bash
# Parallel graph builds, measured in one run on the real engine. Every build sleeps 3 s (a stand-in
# for network-bound apt-get/pip); a fresh --dagster-version defeats docker's cache each run.
#  A. four independent images: -j1 against -j4 (goal: -j4 at least 3x faster);
#  B. the same four plus a chain of three (each on the one before): -j4 wall time against the
#     critical path, the sum of the chain's build times measured alone at -j1 (goal: within 1.2x).
source "$(dirname "$0")/prelude.sh"

image() { # image CATALOG NAME [BASE]
    local dir=$1/$2
    mkdir -p "$dir"
    if [ -n "${3:-}" ]; then
        printf '3.10:\n  base_image: {name: %s, source: local}\n' "$3" >"$dir/versions.yaml"
        printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n' >"$dir/Dockerfile"
    else
        printf '3.10: {}\n' >"$dir/versions.yaml"
        printf 'FROM dagster-image/rootfs:busybox\n' >"$dir/Dockerfile"
    fi
    printf 'ARG DAGSTER_VERSION\nRUN echo "%s $DAGSTER_VERSION" > /built && sleep 3\n' "$2" >>"$dir/Dockerfile"
}
for i in 1 2 3 4; do image "$work/independent" "independent-$i"; image "$work/mixed" "independent-$i"; done
image "$work/mixed" chain-a
image "$work/mixed" chain-b chain-a
image "$work/mixed" chain-c chain-b

# build CATALOG JOBS LABEL [NAME...]: wall seconds on stdout, summary table kept in $work/LABEL.txt
build() {
    local catalog=$1 jobs=$2 label=$3 start end
    shift 3
    start=$EPOCHREALTIME
    "$tool" --images-dir "$catalog" build-all -j "$jobs" --dagster-version "$label-$RANDOM$RANDOM" "$@" \
        >/dev/null 2>"$work/$label.txt"
    end=$EPOCHREALTIME
    python3 -c "print($end - $start)"
}
a1=$(build "$work/independent" 1 a-j1)
a4=$(build "$work/independent" 4 a-j4)
chain=$(build "$work/mixed" 1 chain --name chain-c --with-deps)
b4=$(build "$work/mixed" 4 b-j4)

python3 - "$work" "$a1" "$a4" "$chain" "$b4" <<'PY'
import sys
work, a1, a4, chain_wall, b4 = sys.argv[1], *map(float, sys.argv[2:])
def times(label):
    rows = [l.split() for l in open(f"{work}/{label}.txt") if l.split()[-1:] and l.split()[-1].endswith("s")]
    return {r[0]: float(r[-1][:-1]) for r in rows if r[0] != "IMAGE" and r[-2] == "built"}
chain = times("chain")
critical = sum(chain.values())
print(f"A. four independent 3 s builds: -j1 {a1:.1f} s, -j4 {a4:.1f} s: speed-up {a1 / a4:.2f}x (goal >= 3x)")
print(f"B. four independent + chain of three, -j4: {b4:.1f} s; critical path {critical:.1f} s "
      f"(chain builds alone: {', '.join(f'{k} {v:.1f} s' for k, v in chain.items())}): "
      f"ratio {b4 / critical:.2f} (goal <= 1.2)")
PY
