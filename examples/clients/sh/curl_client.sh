#!/bin/sh
# Plain curl (POSIX sh; curl 7.88): the partner document's sample request, as docs/conformance.md
# shows it ("A minimal client in shell"), made into a whole command client.
#
# Follows that sample: the JSON body {client_id, client_secret, grant_type, scope[, audience]}
# POSTed with `curl -sf --request POST --url ... --header 'content-type: application/json'`,
# access_token cut out with sed, then `curl -sf --header "Authorization: Bearer $token"` for each
# of M2M_API_CALLS calls, one by one (M2M_API_CONCURRENCY is ignored, as the protocol allows),
# M2M_API_INTERVAL_MS apart. M2M_CA_BUNDLE is passed to --cacert when the emulator serves TLS.
#
# Shows: what the sample leaves out: one token for the whole run (never renewed), no retry of a
# 429 or 5xx, no timeout (curl has none by default), the token_type not looked at; curl does not
# follow redirects unless told to (-L), so a 307 is a failure, not a leak.
#
# M2M_ADAPTER_FIX=1: `--retry 2 --retry-max-time 10` (curl retries timeouts, 429 and 5xx and
# honours Retry-After), `--max-time 5` (with the retries, a stalled endpoint is given up on
# within about 11 s), a check that token_type is Bearer, and a new token once expires_in has run
# out (less 1 s).
set -u
fix="${M2M_ADAPTER_FIX:-}"
calls="${M2M_API_CALLS:-1}"
interval_ms="${M2M_API_INTERVAL_MS:-0}"
set --
[ -n "${M2M_CA_BUNDLE:-}" ] && set -- --cacert "$M2M_CA_BUNDLE"
[ "$fix" = 1 ] && set -- "$@" --max-time 5

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

body="{\"client_id\":\"$M2M_CLIENT_ID\",\"client_secret\":\"$M2M_CLIENT_SECRET\",\"grant_type\":\"client_credentials\""
[ -n "${M2M_SCOPE:-}" ] && body="$body,\"scope\":\"$M2M_SCOPE\""
[ -n "${M2M_AUDIENCE:-}" ] && body="$body,\"audience\":\"$M2M_AUDIENCE\""
body="$body}"

token=""
renew_at=0
fetch_token() {
  retry=""
  [ "$fix" = 1 ] && retry="--retry 2 --retry-max-time 10"
  sent=$(now_ms)
  # shellcheck disable=SC2086
  response=$(curl -sf "$@" $retry --request POST --url "$M2M_TOKEN_URL" \
    --header 'content-type: application/json' --data "$body") || return 1
  token=$(printf '%s' "$response" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || return 1
  [ "$fix" = 1 ] || return 0
  type=$(printf '%s' "$response" | sed -n 's/.*"token_type":"\([^"]*\)".*/\1/p' | tr 'A-Z' 'a-z')
  [ "$type" = bearer ] || { echo "the token response is not a Bearer token" >&2; return 1; }
  lifetime=$(printf '%s' "$response" | sed -n 's/.*"expires_in":\([0-9]*\).*/\1/p')
  renew_at=$(( sent + ${lifetime:-0} * 1000 - 1000 ))
}

fetch_token "$@" || { echo "token request failed" >&2; exit 1; }
i=1
while [ "$i" -le "$calls" ]; do
  if [ "$i" -gt 1 ] && [ "$interval_ms" -gt 0 ]; then
    sleep "$(awk "BEGIN { print $interval_ms / 1000 }")"
  fi
  if [ "$fix" = 1 ] && [ "$(now_ms)" -ge "$renew_at" ]; then
    fetch_token "$@" || { echo "token request failed" >&2; exit 1; }
  fi
  curl -sf "$@" -o /dev/null --header "Authorization: Bearer $token" "$M2M_API_URL" \
    || { echo "API call $i failed" >&2; exit 1; }
  echo "API call $i: ok"
  i=$((i + 1))
done
