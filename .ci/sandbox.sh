# shellcheck shell=bash
# Sourced by the CI scripts that test from outside against a running sandbox:
# `start_sandbox LABEL` builds `kvp-payroll`, starts `kvp-payroll sandbox` on free
# ports in a temporary folder, waits for its sandbox.json and sets `sandbox_dir`;
# the sandbox is stopped and its folder removed when the script exits.

readonly SANDBOX_START_TIMEOUT=120

start_sandbox() {
  local label=$1 target="${CARGO_TARGET_DIR:-$PWD/target}"
  cargo build -q --locked -p kvp-payroll --bin kvp-payroll
  sandbox_dir=$(mktemp -d)
  sandbox_log="$sandbox_dir.log"
  "$target/debug/kvp-payroll" sandbox --dir "$sandbox_dir" --grpc-port 0 --http-port 0 \
    >"$sandbox_log" 2>&1 &
  sandbox_pid=$!
  trap 'kill "$sandbox_pid" 2>/dev/null; wait "$sandbox_pid" 2>/dev/null; rm -rf "$sandbox_dir" "$sandbox_log"' EXIT
  local deadline=$((SECONDS + SANDBOX_START_TIMEOUT))
  until [[ -f $sandbox_dir/sandbox.json ]]; do
    if ! kill -0 "$sandbox_pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "$label: the sandbox did not start; its log:" >&2
      tail -n 40 "$sandbox_log" >&2
      exit 1
    fi
    sleep 1
  done
}
