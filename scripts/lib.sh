# Shell helpers shared by the set-up scripts (sourced, not run).

# wait_for NAME LOG CMD...: poll CMD for up to 60 s, else show LOG and fail.
wait_for() {
    local name=$1 log=$2
    shift 2
    for _ in $(seq 120); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    echo "$name did not come up within 60 s; tail of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
}

# apt_install PACKAGE...: install Debian packages, waiting for another apt to finish.
apt_install() {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@"
}

# resolve_to_loopback HOST: make HOST name 127.0.0.1 in /etc/hosts (once).
resolve_to_loopback() {
    local host=$1
    if ! grep -Eq "^127\.0\.0\.1[[:space:]]+(.*[[:space:]])?$host([[:space:]]|$)" /etc/hosts; then
        echo "127.0.0.1 $host" >>/etc/hosts
    fi
}

# serve_registry DIR LOG HTTP_AND_MORE: (re)start a v2 registry storing under DIR/data, its
# config made of the storage section and HTTP_AND_MORE (YAML: `http:`, `auth:`), its output
# appended to LOG, its pid in DIR/registry.pid. The caller waits for it to answer.
serve_registry() {
    local dir=$1 log=$2 rest=$3
    if [ -s "$dir/registry.pid" ] && kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
        kill "$(cat "$dir/registry.pid")"
        sleep 1
    fi
    mkdir -p "$dir/data"
    printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n  delete:\n    enabled: true\n%s\n' \
        "$dir" "$rest" >"$dir/config.yml"
    setsid nohup docker-registry serve "$dir/config.yml" >>"$log" 2>&1 </dev/null &
    echo $! >"$dir/registry.pid"
}
