#!/bin/sh
# A partner client in POSIX shell + curl, built on the partner document's sample request.
# It follows the command-client protocol (M2M_* variables) and makes its API calls one by one
# (M2M_API_CONCURRENCY is allowed to be ignored). M2M_MUTATION breaks it on purpose for the
# mutation tests: comma-scope, query-secret, print-secret, no-token-check, insecure,
# follow-redirect, no-timeout, no-request.
set -u
mutation="${M2M_MUTATION:-}"
calls="${M2M_API_CALLS:-1}"
interval_ms="${M2M_API_INTERVAL_MS:-0}"
[ "$mutation" = "no-request" ] && { echo "curl: command not found" >&2; exit 127; }
cacert=""
[ -n "${M2M_CA_BUNDLE:-}" ] && cacert="--cacert $M2M_CA_BUNDLE"
[ "$mutation" = "insecure" ] && cacert="--insecure"
limit="--max-time 10"
[ "$mutation" = "no-timeout" ] && limit=""
follow=""
[ "$mutation" = "follow-redirect" ] && follow="--location"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

token=""
expires_at=0
fetch_token() {
  scope="$M2M_SCOPE"
  [ "$mutation" = "comma-scope" ] && scope=$(printf '%s' "$scope" | tr ' ' ',')
  body="{\"client_id\":\"$(json_escape "$M2M_CLIENT_ID")\",\"client_secret\":\"$(json_escape "$M2M_CLIENT_SECRET")\",\"grant_type\":\"client_credentials\""
  [ -n "$scope" ] && body="$body,\"scope\":\"$(json_escape "$scope")\""
  [ -n "${M2M_AUDIENCE:-}" ] && body="$body,\"audience\":\"$(json_escape "$M2M_AUDIENCE")\""
  body="$body}"
  url="$M2M_TOKEN_URL"
  [ "$mutation" = "query-secret" ] && url="$url?client_secret=$M2M_CLIENT_SECRET"
  [ "$mutation" = "print-secret" ] && echo "requesting a token with secret $M2M_CLIENT_SECRET"
  sent=$(now_ms)
  # shellcheck disable=SC2086
  response=$(curl -sS $cacert $limit $follow -w '\n%{http_code}' --request POST --url "$url" \
    --header 'content-type: application/json' --data "$body") || return 1
  status=$(printf '%s' "$response" | tail -n 1)
  payload=$(printf '%s' "$response" | sed '$d')
  token=$(printf '%s' "$payload" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
  type=$(printf '%s' "$payload" | sed -n 's/.*"token_type" *: *"\([^"]*\)".*/\1/p' | tr 'A-Z' 'a-z')
  lifetime=$(printf '%s' "$payload" | sed -n 's/.*"expires_in" *: *\([0-9]*\).*/\1/p')
  if [ "$mutation" = "no-token-check" ]; then
    [ -z "$token" ] && token="None"
    expires_at=$(( sent + ${lifetime:-0} * 1000 ))
    return 0
  fi
  if [ "$status" != "200" ] || [ -z "$token" ] || [ "$type" != "bearer" ] || [ -z "$lifetime" ]; then
    echo "token request failed (HTTP $status)" >&2
    token=""
    return 1
  fi
  expires_at=$(( sent + lifetime * 1000 - 200 ))
}

call_api() {
  # shellcheck disable=SC2086
  curl -sS $cacert $limit -o /dev/null -w '%{http_code}' \
    --header "Authorization: Bearer $token" "$M2M_API_URL"
}

i=0
while [ "$i" -lt "$calls" ]; do
  if [ "$i" -gt 0 ] && [ "$interval_ms" -gt 0 ]; then
    sleep "$(awk "BEGIN { print $interval_ms / 1000 }")"
  fi
  if [ -z "$token" ] || [ "$(now_ms)" -ge "$expires_at" ]; then
    fetch_token || exit 1
  fi
  code=$(call_api) || exit 1
  if [ "$code" = "401" ]; then
    fetch_token || exit 1
    code=$(call_api) || exit 1
  fi
  case "$code" in
    2??) echo "API call $((i + 1)): $code" ;;
    *) echo "API call $((i + 1)) failed: $code" >&2; exit 1 ;;
  esac
  i=$((i + 1))
done
exit 0
