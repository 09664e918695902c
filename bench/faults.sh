#!/usr/bin/env bash
# The registry faults of issue 18, through the fault-injecting proxy of the tests
# (bench/fault_proxy.rs) in front of the loopback registry, measured in one run:
#  A. `push-all` of every image of the example catalog, to a new repository each run, through
#     a proxy resetting 20% of connections (a seeded pattern, another seed each run), RUNS runs
#     (default 20): how many succeed with every tag in the registry, and their time against the
#     same pushes through a pass-through proxy;
#  B. `tags` against a registry that accepts connections and never answers, default deadline:
#     time to the error;
#  C. `release` against a registry answering 401 to everything: time to the error.
source "$(dirname "$0")/prelude.sh"
runs=${RUNS:-20}
cargo build --release --locked --quiet --example fault_proxy
proxy_bin=$PWD/target/release/examples/fault_proxy
ts=bench-faults
cp -r examples/images "$work/images"
"$tool" --images-dir "$work/images" build-all -t "$ts" >/dev/null 2>&1
images=$("$tool" --images-dir "$work/images" list | tr '\n' ' ')

# start_proxy FAULT...: starts a proxy to the registry, sets $proxy (its host) and $proxy_pid.
start_proxy() {
    "$proxy_bin" 127.0.0.1:5000 "$@" >"$work/proxy.out" 2>/dev/null &
    proxy_pid=$!
    until [ -s "$work/proxy.out" ]; do sleep 0.05; done
    proxy=$(cat "$work/proxy.out")
}
stop_proxy() { kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; : >"$work/proxy.out"; }
now() { date +%s.%N; }

# push_catalog PATH: push-all of every image to <proxy>/PATH; 0 when every run and every tag
# in the registry (asked directly) succeeded.
push_catalog() {
    local name version
    for name in $images; do
        "$tool" --images-dir "$work/images" --registry "$proxy/$1" push-all --name "$name" \
            >>"$work/push.log" 2>&1 || return 1
        for version in 3.9 3.10; do
            curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
                "http://127.0.0.1:5000/v2/$1/$name/manifests/py$version-$ts" || return 1
        done
    done
}

start_proxy --stall-secs 100
start=$(now)
"$tool" --images-dir "$work/images" --registry "$proxy/bench" tags --name python-base \
    2>"$work/stall.err" && exit 1
stalled=$(echo "$(now) - $start" | bc)
stop_proxy

start_proxy --unauthorized
start=$(now)
"$tool" --images-dir "$work/images" --registry "$proxy/bench" release --name python-base \
    --dagster-version 1.2.3 --to "$proxy/bench/released" 2>"$work/401.err" && exit 1
refused=$(echo "$(now) - $start" | bc)
stop_proxy

echo "B. stalled registry, default deadline: \`tags\` failed after ${stalled} s: $(cat "$work/stall.err")" >&2
echo "C. \`release\` to a registry answering 401: failed after ${refused} s: $(cat "$work/401.err")" >&2

start_proxy
start=$(now); push_catalog "bench.$$.clean"; clean=$(echo "$(now) - $start" | bc)
stop_proxy
echo "pass-through: ${clean} s" >&2
passed=0; total=0
for run in $(seq 1 "$runs"); do
    start_proxy --reset-percent 20 --seed "$run"
    start=$(now)
    if push_catalog "bench.$$.reset$run"; then passed=$((passed + 1)); fi
    took=$(echo "$(now) - $start" | bc)
    total=$(echo "$total + $took" | bc)
    stop_proxy
    echo "run $run: ${took} s; $passed of $run passed so far" >&2
done
retries=$(grep -c '^warning: pushing' "$work/push.log" || true)

python3 - "$runs" "$passed" "$total" "$clean" "$retries" "$stalled" "$refused" <<'PY'
import sys
runs, passed = int(sys.argv[1]), int(sys.argv[2])
total, clean, retries, stalled, refused = map(float, sys.argv[3:])
print(f"A. push-all of the example catalog, 20% of connections reset: {passed} of {runs} runs "
      f"succeeded; {total / runs:.1f} s a run against {clean:.1f} s through a pass-through "
      f"proxy ({total / runs / clean:.1f}x); {int(retries)} docker push retries in all")
print(f"B. stalled registry, default deadline: `tags` failed after {stalled:.1f} s")
print(f"C. `release` to a registry answering 401: failed after {refused * 1000:.0f} ms")
PY
