#!/usr/bin/env bash
# The registry faults of issue 18, through the fault-injecting proxy of the tests
# (bench/fault_proxy.rs) in front of the loopback registry, measured in one run:
#  A. `push-all` of every image of the example catalog, to a new repository each run, through
#     a proxy resetting 20% of connections (a seeded pattern, another seed each run), RUNS runs
#     (default 20), PARALLEL at a time (default 4: nearly all of a run is docker's own waits
#     between layer retries, 5 to 20 s): how many succeed with every tag in the registry, and
#     their time against the same pushes through a pass-through proxy;
#  B. `tags` against a registry that accepts connections and never answers, default deadline:
#     time to the error;
#  C. `release` against a registry answering 401 to everything: time to the error.
source "$(dirname "$0")/prelude.sh"
runs=${RUNS:-20}
parallel=${PARALLEL:-4}
cargo build --release --locked --quiet --example fault_proxy
proxy_bin=$PWD/target/release/examples/fault_proxy
ts=bench-faults
cp -r examples/images "$work/images"
"$tool" --images-dir "$work/images" build-all -t "$ts" >/dev/null 2>&1
images=$("$tool" --images-dir "$work/images" list | tr '\n' ' ')

# start_proxy NAME FAULT...: starts a proxy to the registry; its host in $work/NAME.host, its pid in
# $work/NAME.pid.
start_proxy() {
    local name=$1
    shift
    "$proxy_bin" 127.0.0.1:5000 "$@" >"$work/$name.host" 2>/dev/null &
    echo $! >"$work/$name.pid"
    until [ -s "$work/$name.host" ]; do sleep 0.05; done
}
proxy_of() { cat "$work/$1.host"; }
stop_proxy() {
    local pid
    pid=$(cat "$work/$1.pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
now() { date +%s.%N; }

# push_catalog PROXY PATH: push-all of every image to <PROXY's host>/PATH; 0 when every run and
# every tag in the registry (asked directly) succeeded.
push_catalog() {
    local name version proxy
    proxy=$(proxy_of "$1")
    shift
    for name in $images; do
        "$tool" --images-dir "$work/images" --registry "$proxy/$1" push-all --name "$name" \
            >>"$work/push-$1.log" 2>&1 || return 1
        for version in 3.9 3.10; do
            curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
                "http://127.0.0.1:5000/v2/$1/$name/manifests/py$version-$ts" || return 1
        done
    done
}

start_proxy stall --stall-secs 100
start=$(now)
"$tool" --images-dir "$work/images" --registry "$(proxy_of stall)/bench" tags --name python-base \
    2>"$work/stall.err" && exit 1
stalled=$(echo "$(now) - $start" | bc)
stop_proxy stall

start_proxy refusing --unauthorized
refusing=$(proxy_of refusing)
start=$(now)
"$tool" --images-dir "$work/images" --registry "$refusing/bench" release --name python-base \
    --dagster-version 1.2.3 --to "$refusing/bench/released" 2>"$work/401.err" && exit 1
refused=$(echo "$(now) - $start" | bc)
stop_proxy refusing

echo "B. stalled registry, default deadline: \`tags\` failed after ${stalled} s: $(cat "$work/stall.err")" >&2
echo "C. \`release\` to a registry answering 401: failed after ${refused} s: $(cat "$work/401.err")" >&2

start_proxy clean
start=$(now); push_catalog clean "bench.$$.clean"; clean=$(echo "$(now) - $start" | bc)
stop_proxy clean
echo "pass-through: ${clean} s" >&2

# reset_run N: run N through a proxy resetting 20% of connections (seed N); writes
# "<passed 0|1> <seconds>" to $work/run-N.
reset_run() {
    local passed=0 start took
    start_proxy "reset$1" --reset-percent 20 --seed "$1"
    start=$(now)
    if push_catalog "reset$1" "bench.$$.reset$1"; then passed=1; fi
    took=$(echo "$(now) - $start" | bc)
    stop_proxy "reset$1"
    echo "$passed $took" >"$work/run-$1"
    echo "run $1: ${took} s, $([ $passed = 1 ] && echo succeeded || echo FAILED)" >&2
}
for run in $(seq 1 "$runs"); do
    reset_run "$run" &
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n; done
done
wait
passed=$(cat "$work"/run-* | awk '{ n += $1 } END { print n }')
total=$(cat "$work"/run-* | awk '{ t += $2 } END { print t }')
retries=$(cat "$work"/push-*.log | grep -c '^warning: pushing' || true)

python3 - "$runs" "$passed" "$parallel" "$total" "$clean" "$retries" "$stalled" "$refused" <<'PY'
import sys
runs, passed, parallel = map(int, sys.argv[1:4])
total, clean, retries, stalled, refused = map(float, sys.argv[4:])
print(f"A. push-all of the example catalog, 20% of connections reset: {passed} of {runs} runs "
      f"succeeded ({parallel} at a time); {total / runs:.1f} s a run against {clean:.1f} s "
      f"through a pass-through proxy ({total / runs / clean:.1f}x); {int(retries)} docker push "
      f"retries in all")
print(f"B. stalled registry, default deadline: `tags` failed after {stalled:.1f} s")
print(f"C. `release` to a registry answering 401: failed after {refused * 1000:.0f} ms")
PY
