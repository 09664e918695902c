#!/usr/bin/env bash
# Issue 26, point 7: `push-all` of every image of the example catalog through the fault proxy of
# the tests (bench/fault_proxy.rs) answering every third request with 503, pushed with
# `docker push` (`--push-with engine`, the only way before) and with the tool's own registry
# client (`--push-with client`, the default with a local engine), side by side in one run, each
# into new repositories; then the same through a pass-through proxy. Prints the times, whether
# every tag landed (asked of the registry directly) and the ratio, and the layer bytes each way
# stored for the catalog (the client gzips layers as docker push does). A way that has not finished
# within LIMIT seconds (default 300) is stopped and counted as failed.
source "$(dirname "$0")/prelude.sh"
limit=${LIMIT:-300}
cargo build --release --locked --quiet --example fault_proxy
proxy_bin=$PWD/target/release/examples/fault_proxy
ts=bench-flaky-push
cp -r examples/images "$work/images"
"$tool" --images-dir "$work/images" build-all -t "$ts" >/dev/null 2>&1
images=$("$tool" --images-dir "$work/images" list | tr '\n' ' ')

# start_proxy FAULT...: starts a proxy to the registry; its host in $proxy, its pid in $proxy_pid.
start_proxy() {
    "$proxy_bin" 127.0.0.1:5000 "$@" >"$work/proxy.host" 2>/dev/null &
    proxy_pid=$!
    until [ -s "$work/proxy.host" ]; do sleep 0.05; done
    proxy=$(cat "$work/proxy.host")
    rm "$work/proxy.host"
}
stop_proxy() { kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; }
now() { date +%s.%N; }

# push_catalog WAY PATH: push-all of every image with `--push-with WAY` to <proxy>/PATH, all
# within the limit; 0 when every run and every tag in the registry (asked directly) succeeded.
push_catalog() {
    local name version way=$1 path=$2 left until
    until=$(($(date +%s) + limit))
    for name in $images; do
        left=$((until - $(date +%s)))
        [ "$left" -gt 0 ] || return 1
        timeout --signal=TERM "$left" "$tool" --images-dir "$work/images" --push-with "$way" \
            --registry "$proxy/$path" push-all --name "$name" >>"$work/push-$way.log" 2>&1 \
            || return 1
        for version in 3.9 3.10; do
            curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
                "http://127.0.0.1:5000/v2/$path/$name/manifests/py$version-$ts" || return 1
        done
    done
}

# timed WAY LABEL FAULT...: "<seconds> <landed 1|0>" of the catalog's push through a proxy of
# FAULT, into repositories under bench.<pid>.<WAY>.<LABEL>.
timed() {
    local way=$1 label=$2 start landed=0
    shift 2
    start_proxy "$@"
    start=$(now)
    if push_catalog "$way" "bench.$$.$way.$label"; then landed=1; fi
    echo "$(echo "$(now) - $start" | bc) $landed"
    stop_proxy
}

read -r engine_flaky engine_landed < <(timed engine flaky --every-nth-503 3)
echo "docker push, every third request 503: ${engine_flaky} s, landed: $engine_landed" >&2
read -r client_flaky client_landed < <(timed client flaky --every-nth-503 3)
echo "client, every third request 503: ${client_flaky} s, landed: $client_landed" >&2
read -r engine_clean _ < <(timed engine clean)
read -r client_clean _ < <(timed client clean)

# layer_bytes WAY: the sizes of the layers of every manifest the clean push of WAY stored, summed.
layer_bytes() {
    local name version total=0 size
    for name in $images; do
        for version in 3.9 3.10; do
            size=$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
                "http://127.0.0.1:5000/v2/bench.$$.$1.clean/$name/manifests/py$version-$ts" |
                python3 -c 'import json, sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')
            total=$((total + size))
        done
    done
    echo "$total"
}
engine_bytes=$(layer_bytes engine)
client_bytes=$(layer_bytes client)

python3 - "$engine_flaky" "$engine_landed" "$client_flaky" "$client_landed" "$engine_clean" \
    "$client_clean" "$limit" "$engine_bytes" "$client_bytes" <<'PY'
import sys
engine, engine_ok, client, client_ok, engine_clean, client_clean, limit = sys.argv[1:8]
engine_bytes, client_bytes = map(int, sys.argv[8:])
engine, client, engine_clean, client_clean = map(float, (engine, client, engine_clean, client_clean))
said = lambda ok: "every tag landed" if ok == "1" else f"FAILED or stopped at {limit} s"
print("push-all of the example catalog (4 images x 2 Python versions), every third request 503:")
print(f"  docker push (--push-with engine): {engine:6.1f} s, {said(engine_ok)}")
print(f"  the tool's client (--push-with client): {client:6.1f} s, {said(client_ok)}")
bound = "" if engine_ok == "1" else "at least "
print(f"  ratio: {bound}{engine / client:.1f}x")
print("through a pass-through proxy:")
print(f"  docker push: {engine_clean:.1f} s; the tool's client: {client_clean:.1f} s "
      f"({engine_clean / client_clean:.1f}x)")
print(f"layer bytes of the catalog's manifests: docker push {engine_bytes}, "
      f"the tool's client {client_bytes} ({client_bytes / engine_bytes:.2f}x)")
PY
