#!/usr/bin/env bash
# Idempotently prepares a stand-in for AWS ECR on loopback, for tests/ecr.rs: moto (a real
# AWS-protocol server) hands out ECR passwords to the real `aws` CLI, and a registry that
# answers to a private ECR host name over TLS accepts exactly that password. Run after
# scripts/setup-engine.sh; nothing here talks to AWS.
set -euo pipefail

VENV=/opt/dagster-image-ecr-venv
MOTO_ADDR=127.0.0.1:5555
MOTO_LOG=/var/log/dagster-image-moto.log
ECR_HOST=123456789012.dkr.ecr.us-west-2.amazonaws.com
ECR_PORT=5443
ECR_ADDR="$ECR_HOST:$ECR_PORT"
ECR_DIR=/var/lib/dagster-image-ecr-registry
ECR_LOG=/var/log/dagster-image-ecr-registry.log
DOCKER_CA="/etc/docker/certs.d/$ECR_ADDR/ca.crt"
# The versions these tests were written against; moto's token format is theirs.
PIP_PACKAGES=('moto[server]==5.2.5' 'awscli==1.46.3')

source "$(dirname "$0")/lib.sh"

missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v curl >/dev/null || missing+=(curl)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi

# The marker is written last, so an interrupted install is redone.
if [ ! -e "$VENV/.installed" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "${PIP_PACKAGES[@]}"
    touch "$VENV/.installed"
fi

if ! curl -fsS "http://$MOTO_ADDR/moto-api/" >/dev/null 2>&1; then
    setsid nohup "$VENV/bin/moto_server" -H "${MOTO_ADDR%:*}" -p "${MOTO_ADDR#*:}" \
        >>"$MOTO_LOG" 2>&1 </dev/null &
    wait_for moto "$MOTO_LOG" curl -fsS "http://$MOTO_ADDR/moto-api/"
fi

resolve_to_loopback "$ECR_HOST"

# Exactly what the tool runs. moto's token is base64("AWS:<account>-auth-token"), the same
# for every call, and the CLI prints the part after `AWS:`.
password=$(AWS_ENDPOINT_URL="http://$MOTO_ADDR" AWS_ACCESS_KEY_ID=testing \
    AWS_SECRET_ACCESS_KEY=testing "$VENV/bin/aws" ecr get-login-password --region us-west-2)

mkdir -p "$ECR_DIR/data" "$(dirname "$DOCKER_CA")"
# A CA of its own signs the registry's certificate: TLS libraries other than Go's (rustls, for
# the tool's registry client) refuse a self-signed CA certificate used as a server's. Made anew
# when missing or when an older set-up left a self-signed server certificate.
if [ ! -s "$ECR_DIR/ca.pem" ] || [ ! -s "$ECR_DIR/cert.pem" ] || [ ! -s "$ECR_DIR/key.pem" ] \
    || openssl x509 -in "$ECR_DIR/cert.pem" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=dagster-image test CA" \
        -keyout "$ECR_DIR/ca-key.pem" -out "$ECR_DIR/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$ECR_HOST" \
        -keyout "$ECR_DIR/key.pem" -out "$ECR_DIR/cert.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$ECR_HOST" \
        >"$ECR_DIR/cert.ext"
    openssl x509 -req -in "$ECR_DIR/cert.csr" -CA "$ECR_DIR/ca.pem" -CAkey "$ECR_DIR/ca-key.pem" \
        -CAcreateserial -days 3650 -extfile "$ECR_DIR/cert.ext" -out "$ECR_DIR/cert.pem" 2>/dev/null
fi
# dockerd reads this folder at each connection, without a restart.
cmp -s "$ECR_DIR/ca.pem" "$DOCKER_CA" || cp "$ECR_DIR/ca.pem" "$DOCKER_CA"

registry_accepts_password() {
    curl -fsS --cacert "$ECR_DIR/ca.pem" -u "AWS:$password" "https://$ECR_ADDR/v2/"
}

if ! registry_accepts_password >/dev/null 2>&1; then
    # A registry of ours with an outdated password or certificate: replace it.
    printf '%s' "$password" | htpasswd -iBc "$ECR_DIR/htpasswd" AWS 2>/dev/null
    serve_registry "$ECR_DIR" "$ECR_LOG" "auth:
  htpasswd:
    realm: dagster-image-ecr
    path: $ECR_DIR/htpasswd
http:
  addr: 127.0.0.1:$ECR_PORT
  tls:
    certificate: $ECR_DIR/cert.pem
    key: $ECR_DIR/key.pem"
    wait_for "ECR registry" "$ECR_LOG" registry_accepts_password
fi

echo "ecr ready: moto on $MOTO_ADDR, registry https://$ECR_ADDR (user AWS, password from moto), aws in $VENV/bin"
