#!/usr/bin/env bash
# A throwaway PKI, token key and identity key for the compose stack: DEVELOPMENT
# ONLY. Nothing it makes protects anything real, and nothing it makes is
# committed (deploy/.gitignore lists the directory).
#
#   deploy/compose/dev-pki.sh                         create what is missing
#   deploy/compose/dev-pki.sh token [--topup] ROLE [MUNICIPALITY] [SUBJECT]
#                                                     print a bearer token for
#                                                     kvp-payroll's REST API
#                                                     (kvp-topup's with
#                                                     --topup), 1 h
#
# ROLE is caseworker, payroll_operator (both need a MUNICIPALITY, four digits),
# auditor or administrator (national without one); for kvp-topup,
# social_assistance_caseworker (needs a MUNICIPALITY; implies --topup), auditor
# or administrator. Needs OpenSSL 3 (Ed25519 signing with `pkeyutl -rawin`).
#
# The files go to deploy/compose/dev-pki/, or to $KVP_DEV_PKI:
#
#   ca.crt                     the dev server CA: clients trust it
#                              (grpcurl -cacert, curl --cacert)
#   payroll/tls/tls.crt, tls.key
#                              kvp-payroll's server certificate (localhost,
#                              127.0.0.1, edge, payroll): gRPC in the service,
#                              REST in the edge. Mounted at /etc/kvp/tls.
#   payroll/tls/client-ca.crt  the dev municipal client CA (KVP_TLS_CLIENT_CA)
#   payroll/auth/keys.toml     the token verification key (KVP_AUTH_KEYS_FILE),
#                              mounted at /etc/kvp/auth
#   payroll/relay-tls/tls.crt, tls.key
#                              the outbox relay's client certificate (URI name
#                              urn:kvp:service:payroll), issued by the dev
#                              services CA; ca.crt beside them is the server
#                              CA (KVP_RELAY_TLS_*)
#   topup/tls/tls.crt, tls.key kvp-topup's server certificate (localhost,
#                              127.0.0.1, edge, topup): gRPC in the service,
#                              REST in the edge
#   topup/tls/client-ca.crt    the dev services CA, which issues the relay's
#                              certificate (KVP_TOPUP_TLS_CLIENT_CA)
#   topup/auth/keys.toml       the same token key for kvp-topup
#                              (KVP_TOPUP_AUTH_KEYS_FILE)
#   payroll.env                KVP_IDENTITY_KEY, read by compose (env_file)
#   clients/0301.crt, .key     municipal client certificates for Oslo (0301)
#   clients/4601.crt, .key     and Bergen (4601): URI names
#                              urn:kvp:municipality:<number>,
#                              urn:kvp:client:payroll-system and
#                              urn:kvp:client:timesheet-client
#   private/                   the CA keys and the token signing key (0700)
#
# The containers run as other users (10001; HAProxy's 99) than the one who runs
# this script, so the mounted directories and tls.key are world-readable: one
# more reason these keys must never be used anywhere else.
#
# Only missing files are made: a new CA re-issues what it signs. payroll.env is
# never replaced: its key protects the identity numbers stored in the compose
# database, so after deleting it, start again with `docker compose down -v`.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pki="${KVP_DEV_PKI:-$here/dev-pki}"

# Must match KVP_AUTH_ISSUER, KVP_AUTH_AUDIENCE and KVP_TOPUP_AUTH_AUDIENCE in
# deploy/compose.yaml.
issuer="https://issuer.kvp-compose.invalid"
audience="kvp-payroll"
topup_audience="kvp-topup"
kid="compose-dev"
days=365
municipalities=(0301 4601)

umask 022

die() {
    echo "dev-pki.sh: $*" >&2
    exit 1
}

base64url() {
    openssl base64 -A | tr '+/' '-_' | tr -d '='
}

# token [--topup] ROLE [MUNICIPALITY] [SUBJECT]: a JWT signed with the dev token key.
token() {
    local aud="$audience"
    if [[ "${1:-}" == --topup ]]; then
        aud="$topup_audience"
        shift
    fi
    local role="${1:-}" municipality="${2:-}" subject="${3:-}"
    case "$role" in
        social_assistance_caseworker)
            [[ "$municipality" =~ ^[0-9]{4}$ ]] || die "a $role token needs a four-digit municipality"
            aud="$topup_audience"
            ;;
        caseworker | payroll_operator)
            [[ "$aud" == "$audience" ]] || die "kvp-topup has no $role role"
            [[ "$municipality" =~ ^[0-9]{4}$ ]] || die "a $role token needs a four-digit municipality"
            ;;
        auditor | administrator)
            [[ -z "$municipality" || "$municipality" =~ ^[0-9]{4}$ ]] || die "the municipality must be four digits"
            ;;
        *) die "ROLE must be caseworker, payroll_operator, social_assistance_caseworker, auditor or administrator" ;;
    esac
    [[ -r "$pki/private/token-signing.key" ]] || die "no token key in $pki: run $0 first"
    subject="${subject:-dev-$role${municipality:+-$municipality}}"
    local now header claims signing_input signature
    now="$(date +%s)"
    header="$(printf '{"alg":"EdDSA","typ":"JWT","kid":"%s"}' "$kid" | base64url)"
    claims="$(printf '{"iss":"%s","aud":"%s","sub":"%s","role":"%s",%s"iat":%d,"nbf":%d,"exp":%d}' \
        "$issuer" "$aud" "$subject" "$role" \
        "${municipality:+\"municipality\":\"$municipality\",}" "$now" "$now" "$((now + 3600))" |
        base64url)"
    signing_input="$header.$claims"
    # OpenSSL 3.0 signs Ed25519 in one shot and needs the input as a file.
    local input
    input="$(mktemp "${TMPDIR:-/tmp}/kvp-token.XXXXXX")"
    printf '%s' "$signing_input" >"$input"
    signature="$(openssl pkeyutl -sign -rawin -inkey "$pki/private/token-signing.key" -in "$input" | base64url)"
    rm -f "$input"
    printf '%s.%s\n' "$signing_input" "$signature"
}

# ca NAME KEY CERT: a self-signed P-256 CA.
ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
        -subj "/O=KVP compose (development only)/CN=$1" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$2" -out "$3" 2>/dev/null
    chmod 600 "$2"
}

# leaf CA_CERT CA_KEY SUBJECT EXTENSIONS KEY CERT: a P-256 certificate.
leaf() {
    local csr="$pki/private/request.csr" ext="$pki/private/request.ext"
    printf '%s\n' "$4" >"$ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "$3" -keyout "$5" -out "$csr" 2>/dev/null
    openssl x509 -req -in "$csr" -CA "$1" -CAkey "$2" -set_serial "0x$(openssl rand -hex 16)" \
        -days "$days" -extfile "$ext" -out "$6" 2>/dev/null
    rm -f "$csr" "$ext"
}

generate() {
    command -v openssl >/dev/null 2>&1 || die "openssl is not installed"
    mkdir -p "$pki/payroll/tls" "$pki/payroll/auth" "$pki/payroll/relay-tls" \
        "$pki/topup/tls" "$pki/topup/auth" "$pki/clients" "$pki/private"
    chmod 700 "$pki/private"
    chmod 755 "$pki" "$pki/payroll" "$pki/payroll/tls" "$pki/payroll/auth" \
        "$pki/payroll/relay-tls" "$pki/topup" "$pki/topup/tls" "$pki/topup/auth"

    # The server CA and kvp-payroll's server certificate.
    if [[ ! -s "$pki/ca.crt" || ! -s "$pki/private/ca.key" ]]; then
        ca "KVP dev server CA" "$pki/private/ca.key" "$pki/ca.crt"
        rm -f "$pki/payroll/tls/tls.crt" "$pki/payroll/tls/tls.key" \
            "$pki/topup/tls/tls.crt" "$pki/topup/tls/tls.key"
        echo "made the server CA: $pki/ca.crt"
    fi
    cp "$pki/ca.crt" "$pki/payroll/relay-tls/ca.crt"
    if [[ ! -s "$pki/payroll/tls/tls.crt" || ! -s "$pki/payroll/tls/tls.key" ]]; then
        leaf "$pki/ca.crt" "$pki/private/ca.key" "/O=KVP compose (development only)/CN=kvp-payroll" \
            "$(printf '%s\n' \
                "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=serverAuth" \
                "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:edge,DNS:payroll,DNS:kvp-payroll")" \
            "$pki/payroll/tls/tls.key" "$pki/payroll/tls/tls.crt"
        chmod 644 "$pki/payroll/tls/tls.key"
        echo "made kvp-payroll's server certificate: $pki/payroll/tls/tls.crt"
    fi

    # kvp-topup's server certificate, from the same server CA.
    if [[ ! -s "$pki/topup/tls/tls.crt" || ! -s "$pki/topup/tls/tls.key" ]]; then
        leaf "$pki/ca.crt" "$pki/private/ca.key" "/O=KVP compose (development only)/CN=kvp-topup" \
            "$(printf '%s\n' \
                "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=serverAuth" \
                "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:edge,DNS:topup,DNS:kvp-topup")" \
            "$pki/topup/tls/tls.key" "$pki/topup/tls/tls.crt"
        chmod 644 "$pki/topup/tls/tls.key"
        echo "made kvp-topup's server certificate: $pki/topup/tls/tls.crt"
    fi

    # The services CA and the outbox relay's certificate, the one sender
    # kvp-topup admits.
    if [[ ! -s "$pki/topup/tls/client-ca.crt" || ! -s "$pki/private/services-ca.key" ]]; then
        ca "KVP dev services CA" "$pki/private/services-ca.key" "$pki/topup/tls/client-ca.crt"
        rm -f "$pki/payroll/relay-tls/tls.crt" "$pki/payroll/relay-tls/tls.key"
        echo "made the services CA: $pki/topup/tls/client-ca.crt"
    fi
    if [[ ! -s "$pki/payroll/relay-tls/tls.crt" || ! -s "$pki/payroll/relay-tls/tls.key" ]]; then
        leaf "$pki/topup/tls/client-ca.crt" "$pki/private/services-ca.key" \
            "/O=KVP compose (development only)/CN=kvp-payroll" \
            "$(printf '%s\n' \
                "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=clientAuth" \
                "subjectAltName=URI:urn:kvp:service:payroll")" \
            "$pki/payroll/relay-tls/tls.key" "$pki/payroll/relay-tls/tls.crt"
        chmod 644 "$pki/payroll/relay-tls/tls.key"
        echo "made the relay's client certificate: $pki/payroll/relay-tls/tls.crt"
    fi

    # The municipal client CA and one client certificate per municipality.
    if [[ ! -s "$pki/payroll/tls/client-ca.crt" || ! -s "$pki/private/client-ca.key" ]]; then
        ca "KVP dev municipal client CA" "$pki/private/client-ca.key" "$pki/payroll/tls/client-ca.crt"
        rm -f "$pki"/clients/*.crt "$pki"/clients/*.key
        echo "made the municipal client CA: $pki/payroll/tls/client-ca.crt"
    fi
    local number
    for number in "${municipalities[@]}"; do
        if [[ ! -s "$pki/clients/$number.crt" || ! -s "$pki/clients/$number.key" ]]; then
            leaf "$pki/payroll/tls/client-ca.crt" "$pki/private/client-ca.key" \
                "/O=KVP compose (development only)/CN=municipality $number" \
                "$(printf '%s\n' \
                    "basicConstraints=critical,CA:FALSE" \
                    "keyUsage=critical,digitalSignature" \
                    "extendedKeyUsage=clientAuth" \
                    "subjectAltName=URI:urn:kvp:municipality:$number,URI:urn:kvp:client:payroll-system,URI:urn:kvp:client:timesheet-client")" \
                "$pki/clients/$number.key" "$pki/clients/$number.crt"
            chmod 600 "$pki/clients/$number.key"
            echo "made the client certificate of municipality $number: $pki/clients/$number.crt"
        fi
    done

    # The REST token key: private half here, public half in the keys file.
    if [[ ! -s "$pki/private/token-signing.key" || ! -s "$pki/payroll/auth/keys.toml" ]]; then
        openssl genpkey -algorithm ED25519 -out "$pki/private/token-signing.key" 2>/dev/null
        chmod 600 "$pki/private/token-signing.key"
        {
            echo "# kvp-payroll's REST token verification keys (KVP_AUTH_KEYS_FILE)."
            echo "# Made by deploy/compose/dev-pki.sh: development only."
            echo "[[keys]]"
            echo "kid = \"$kid\""
            echo "algorithm = \"EdDSA\""
            echo 'public_key_pem = """'
            openssl pkey -in "$pki/private/token-signing.key" -pubout
            echo '"""'
        } >"$pki/payroll/auth/keys.toml"
        echo "made the token key: $pki/payroll/auth/keys.toml"
    fi
    # kvp-topup trusts the same token key.
    sed "s/kvp-payroll's REST token verification keys (KVP_AUTH_KEYS_FILE)/kvp-topup's REST token verification keys (KVP_TOPUP_AUTH_KEYS_FILE)/" \
        "$pki/payroll/auth/keys.toml" >"$pki/topup/auth/keys.toml"

    # The identity key: made once, never replaced (see above).
    if [[ ! -s "$pki/payroll.env" ]]; then
        (
            umask 077
            {
                echo "# kvp-payroll's identity key for the compose stack (development only)."
                echo "KVP_IDENTITY_KEY=$(openssl rand -base64 32)"
            } >"$pki/payroll.env"
        )
        echo "made the identity key: $pki/payroll.env"
    fi
    echo "dev PKI ready in $pki"
}

case "${1:-}" in
    "") generate ;;
    token)
        shift
        token "$@"
        ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" ;;
    *) die "unknown argument: $1 (try --help)" ;;
esac
