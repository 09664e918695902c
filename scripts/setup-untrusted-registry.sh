#!/usr/bin/env bash
# Idempotently starts, for tests/registry.rs, a plain v2 registry (no auth) on loopback that
# answers to a host name over TLS with a self-signed certificate nobody trusts: it is put
# neither in docker's certs.d nor in the system's trust store, so pushing to it must fail as
# untrusted. Run after scripts/setup-engine.sh.
set -euo pipefail

HOST=untrusted.registry.test
PORT=5444
ADDR="$HOST:$PORT"
DIR=/var/lib/dagster-image-untrusted-registry
LOG=/var/log/dagster-image-untrusted-registry.log
DOCKER_CA_DIR="/etc/docker/certs.d/$ADDR"

source "$(dirname "$0")/lib.sh"

missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi

# The point of this registry is that docker and the tool do not trust it.
if [ -e "$DOCKER_CA_DIR" ]; then
    echo "$DOCKER_CA_DIR exists: docker would trust $ADDR; remove it (this registry must stay untrusted)" >&2
    exit 1
fi

resolve_to_loopback "$HOST"

mkdir -p "$DIR/data"
# A self-signed leaf certificate for the right name (CA:FALSE, so that the only thing wrong
# with it is that no one trusts its issuer). Made anew when missing.
fresh_certificate=false
if [ ! -s "$DIR/cert.pem" ] || [ ! -s "$DIR/key.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$HOST" \
        -addext "subjectAltName=DNS:$HOST" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "extendedKeyUsage=serverAuth" \
        -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
    fresh_certificate=true
fi

registry_answers() {
    curl -fsSk "https://$ADDR/v2/"
}

if $fresh_certificate || ! registry_answers >/dev/null 2>&1; then
    # A registry of ours serving an older certificate, or not answering: replace it.
    serve_registry "$DIR" "$LOG" "http:
  addr: 127.0.0.1:$PORT
  tls:
    certificate: $DIR/cert.pem
    key: $DIR/key.pem"
    wait_for "untrusted registry" "$LOG" registry_answers
fi

echo "untrusted registry ready: https://$ADDR (self-signed, trusted by neither docker nor the system)"
