#!/usr/bin/env bash
# Registry-native pushes and releases against the loopback registry, measured in one run:
#  A. `push-all` of every image of the unchanged example catalog (8 image-versions, all already
#     pushed) against the same pushes done by `docker push`;
#  B. `release` of python-base to a new repository (copied inside the registry) against
#     `docker pull` + `docker tag` + `docker push` of the same tags (docker's best case: the
#     image is already local).
# Request counts come from the registry's access log: the requests to the benchmark's
# repositories, plus the `/v2/` pings made under the client's user agent during that run.
source "$(dirname "$0")/prelude.sh"
registry=127.0.0.1:5000/bench.$$
log=/var/log/dagster-image-registry.log
ts=bench-registry
cp -r examples/images "$work/images"
dagster_image() { "$tool" --images-dir "$work/images" --registry "$registry" "$@"; }
dagster_image build-all -t "$ts" >/dev/null 2>&1
images=$("$tool" --images-dir "$work/images" list | tr '\n' ' ')
for name in $images; do dagster_image push-all --name "$name" >/dev/null 2>&1; done

# The commands compared, as scripts, so that hyperfine and the request count run the same.
cat >"$work/push-all.sh" <<EOF
for name in $images; do "$tool" --images-dir "$work/images" --registry "$registry" push-all --name "\$name" 2>/dev/null; done
EOF
: >"$work/docker-push.sh"
for name in $images; do
    for version in 3.9 3.10; do
        echo "docker push -q $registry/$name:py$version-$ts >/dev/null" >>"$work/docker-push.sh"
    done
done
cat >"$work/release.sh" <<EOF
"$tool" --images-dir "$work/images" --registry "$registry" release --name python-base \
    --dagster-version 1.2.3 --to "$registry/released-\$(date +%s%N)" 2>/dev/null
EOF
cat >"$work/docker-release.sh" <<EOF
to=$registry/released-\$(date +%s%N)
docker pull -q $registry/python-base:py3.9-$ts >/dev/null
docker tag $registry/python-base:py3.9-$ts \$to:1.2.3
docker tag $registry/python-base:py3.9-$ts \$to:latest
docker push -q \$to:1.2.3 >/dev/null
docker push -q \$to:latest >/dev/null
EOF

# requests SCRIPT AGENT: runs SCRIPT once and prints how many requests it made.
requests() {
    local before
    before=$(stat -c %s "$log")
    bash "$work/$1" >/dev/null
    tail -c +"$((before + 1))" "$log" | python3 -c '
import sys
path, agent = "/v2/" + sys.argv[1].split("/", 1)[1] + "/", sys.argv[2]
count = 0
for line in sys.stdin:
    parts = line.split("\"")
    if len(parts) < 6 or len(parts[1].split()) < 2:
        continue
    target = parts[1].split()[1]
    if target.startswith(path) or (target == "/v2/" and parts[5].startswith(agent)):
        count += 1
print(count)' "$registry" "$2"
}
push_requests=$(requests push-all.sh dagster-image/)
docker_push_requests=$(requests docker-push.sh docker/)
release_requests=$(requests release.sh dagster-image/)
docker_release_requests=$(requests docker-release.sh docker/)

hyperfine --warmup 1 --runs 10 --export-json "$work/push.json" \
    -n "push-all (registry client)" "bash $work/push-all.sh" \
    -n "docker push" "bash $work/docker-push.sh"
hyperfine --warmup 1 --runs 10 --export-json "$work/release.json" \
    -n "release (copy in registry)" "bash $work/release.sh" \
    -n "docker pull+tag+push" "bash $work/docker-release.sh"

python3 - "$work" "$push_requests" "$docker_push_requests" "$release_requests" \
    "$docker_release_requests" <<'PY'
import json, sys
work, push_n, docker_push_n, release_n, docker_release_n = sys.argv[1], *map(int, sys.argv[2:])
def means(name):
    return [r["mean"] for r in json.load(open(f"{work}/{name}.json"))["results"]]
ours, docker = means("push")
print(f"A. re-push of the unchanged catalog (8 image-versions): {ours * 1000:.0f} ms against "
      f"docker push {docker * 1000:.0f} ms: {docker / ours:.1f}x faster; "
      f"requests {push_n} against {docker_push_n}")
ours, docker = means("release")
print(f"B. release to a new repository: {ours * 1000:.0f} ms against docker pull+tag+push "
      f"{docker * 1000:.0f} ms: {docker / ours:.1f}x faster; "
      f"requests {release_n} against {docker_release_n}")
PY
