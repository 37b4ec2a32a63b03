#!/usr/bin/env bash
# Load run: mcp-authz against the two floors of the shared bench harness
# (noop: gRPC only; parseonly: gRPC + JSON parse) on this machine, in one
# run, so the figures can be read as ratios. Loopback only; every run is
# bounded (DUR seconds, REPEATS times). Needs ../shared/bench beside the repo.
#
# usage: test/load/run.sh        env: DUR (8), REPEATS (2), CONC (16), RATE (2000),
#        PEER (optional: an opa-envoy-plugin binary, run with the harness's
#        reference MCP policy, signature-verifying, side by side),
#        PROFILE (optional: a file to write a CPU profile of mcp-authz under
#        the first closed-loop run to; turns on pprof on its admin listener)
#
# It prints the harness's full table, then the issue's comparison (ratios to
# noop from this run) and mcp-authz against its targets (test/load/table).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${SHARED:-$repo/../shared}
[[ -d $shared/bench ]] || { echo "load: $shared/bench not found (set SHARED)" >&2; exit 2; }
dur=${DUR:-8} repeats=${REPEATS:-2} conc=${CONC:-16} rate=${RATE:-2000}
work=$(mktemp -d -t mcp-authz-load.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$shared/bench" "$work/bench" && cp -r "$shared/fixtures" "$work/fixtures" && chmod -R u+w "$work"
(cd "$work/bench" && go build -o bin/ ./loadgen ./noop ./parseonly ./summarize)
# mcp-authz is measured as the Dockerfile ships it: static, CGO_ENABLED=0
# (pure-Go resolver; no libc mapped, ~1.7 MiB less file-backed RSS).
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/bin/mcp-authz" ./cmd/mcp-authz && go build -o "$work/bin/table" ./test/load/table)
cat >"$work/config.yaml" <<YAML
listen: 127.0.0.1:9191
admin_listen: 127.0.0.1:9192
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: $work/fixtures/mcp/keys/jwks.json
log_level: warn
pprof: $([[ -n ${PROFILE:-} ]] && echo true || echo false)
# The issue's targets are measured with the audit trail on: every decision
# is written, off the Check path, to a rotating file in the scratch dir.
decision_log:
  output: file
  path: $work/decisions.jsonl
YAML
declare -A cmd=(
	[noop]="$work/bench/bin/noop -addr 127.0.0.1:9191"
	[parseonly]="$work/bench/bin/parseonly -addr 127.0.0.1:9191"
	[mcp-authz]="$work/bin/mcp-authz serve --config $work/config.yaml"
)
names=(noop parseonly mcp-authz)
if [[ -n ${PEER:-} ]]; then
	[[ -x $PEER ]] || { echo "load: PEER=$PEER is not an executable" >&2; exit 2; }
	pp=$work/bench/peer-policy
	cmd[opa-envoy-plugin]="$PEER run --server --addr=127.0.0.1:8181 --skip-version-check --log-level=error --config-file=$pp/opa-config.yaml $pp/common $pp/verify"
	names+=(opa-envoy-plugin)
fi
out=$work/results.jsonl
for ((r = 1; r <= repeats; r++)); do
	for s in "${names[@]}"; do
		if [[ -n ${PROFILE:-} && $s == mcp-authz && $r == 1 ]]; then
			# run-peer.sh warms up for 2 s; profile the middle of the measured run.
			(sleep 3 && curl -sf -o "$PROFILE" "http://127.0.0.1:9192/debug/pprof/profile?seconds=$((dur > 4 ? dur - 2 : 2))") &
		fi
		# shellcheck disable=SC2086
		"$work/bench/run-peer.sh" -n "$s" -c "$conc" -d "$dur" -f "$work/fixtures/mcp/mcp-mix.json" -- ${cmd[$s]} >>"$out"
		wait # the profile, if one was taken
		# shellcheck disable=SC2086
		"$work/bench/run-peer.sh" -n "$s" -c "$conc" -d "$dur" -r "$rate" -f "$work/fixtures/mcp/mcp-mix.json" -- ${cmd[$s]} >>"$out"
	done
done
"$work/bench/bin/summarize" <"$out"
echo
"$work/bin/table" <"$out"
