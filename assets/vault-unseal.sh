#!/bin/sh
# Unseals the server (Vault or OpenBao: SERVER names it) with the unseal keys kept on this host. Written by picluster-vault-tui from
# assets/vault-unseal.sh and run by the <server>-unseal.service unit (as root) after every start of the server.
#
# What it does, in order:
#  1. waits for https://127.0.0.1:<port>/v1/sys/health, verifying the server with Vault's CA
#     (certificate checks are never skipped), with a bounded number of attempts;
#     200/472/473 -> already unsealed, 501 -> not initialized: nothing to do (exit 0);
#     429 -> unsealed but a standby: on to step 4; 503 -> sealed: go on;
#  2. reads the keys file defensively: {"keys": [...], "threshold": t} is the shape the product
#     writes; the CLI shape of `vault operator init -format=json` (unseal_keys_hex/unseal_keys_b64,
#     unseal_threshold) is read too;
#  3. submits one key at a time to /v1/sys/unseal until Vault says sealed=false, at most `threshold`;
#  4. waits (bounded) until the node is the active one: right after an unseal a single raft node is
#     a standby (sys/health 429) until it has elected itself, and every request other than sys/*
#     fails meanwhile (500 "local node not active but active cluster node not found"). Exit 0 says
#     the server serves.
#
# A key never appears in a command line or an environment (both are visible to other users in
# `ps` and /proc): jq reads the keys file on its standard input and writes the JSON body straight
# into curl's standard input (--data @-). Nothing printed here contains a key; jq's own error
# messages (which can quote values) are discarded and replaced by ours.
# Output goes to the journal (journalctl -u vault-unseal). Exit status 0: unsealed and the active
# node, or nothing to do; 1: it could not unseal, or the node stayed a standby, with a line saying why.
#
# HTTP API: https://developer.hashicorp.com/vault/api-docs/system/health
#           https://developer.hashicorp.com/vault/api-docs/system/unseal
set -eu

SERVER={{serverName}}
API_PORT={{apiPort}}
CA_FILE={{caFile}}
KEYS_FILE={{keysFile}}
WAIT_ATTEMPTS={{waitAttempts}}
WAIT_INTERVAL_SECONDS={{waitIntervalSeconds}}
ACTIVE_WAIT_SECONDS={{activeWaitSeconds}}

API="https://127.0.0.1:${API_PORT}/v1"
NEWLINE='
'

log() {
  printf '%s\n' "$*"
}

fail() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# -q first: no ~/.curlrc may switch certificate checks off or add a proxy. Loopback never goes through a proxy.
vault_curl() {
  curl -q --silent --noproxy '*' --connect-timeout 3 --max-time 10 --cacert "$CA_FILE" "$@"
}

# Prints the `errors` of a Vault answer read on stdin, with any key of the keys file masked
# (Vault does not echo keys, but a message must never be the way one reaches the journal).
describe_errors() {
  jq -r --slurpfile file "$KEYS_FILE" '
    [($file[0] | (.keys // .unseal_keys_hex // .unseal_keys_b64 // []))[] | strings | select(length > 0)] as $keys
    | ((.errors // []) | map(tostring) | join("; ")) as $text
    | reduce $keys[] as $key ($text; split($key) | join("<key>"))
    | if . == "" then "no error message" else . end' 2>/dev/null || printf 'an answer that is not JSON'
}

# --- 4. wait for the active node (called from 1 and 3) -------------------------------------------
# Raft elects a single node within seconds (longer on a slow SD card); still a standby at the
# deadline means something is wrong with raft, said with where to look.
# https://developer.hashicorp.com/vault/api-docs/system/health (429: unsealed and standby)
wait_active() {
  active_deadline=$(( $(date +%s) + ACTIVE_WAIT_SECONDS ))
  told=no
  while :; do
    code=$(vault_curl --output /dev/null --write-out '%{http_code}' "${API}/sys/health" 2>/dev/null) || code=000
    case "$code" in
      # 472/473: a replication secondary or performance standby (Vault Enterprise), which serve.
      200 | 472 | 473)
        if [ "$told" = yes ]; then log "${SERVER} is the active node (HTTP ${code} from sys/health)"; fi
        exit 0
        ;;
      429)
        if [ "$told" = no ]; then
          log "${SERVER} is unsealed, waiting for leadership: a standby (HTTP 429 from sys/health) until raft makes it the active node (up to ${ACTIVE_WAIT_SECONDS} s)"
          told=yes
        fi
        ;;
      503) fail "${SERVER} is sealed again (HTTP 503 from sys/health) while waiting for it to become the active node" ;;
    esac
    if [ "$(date +%s)" -ge "$active_deadline" ]; then
      fail "${SERVER} is unsealed but not the active node after ${ACTIVE_WAIT_SECONDS} s (last: HTTP ${code} from sys/health); look for raft errors in the server's journal"
    fi
    sleep 1
  done
}

# --- 1. wait for the API -----------------------------------------------------------------------
deadline=$(( $(date +%s) + WAIT_ATTEMPTS * WAIT_INTERVAL_SECONDS ))
attempt=1
log "waiting for ${SERVER} at ${API}/sys/health (up to ${WAIT_ATTEMPTS} attempts, ${WAIT_INTERVAL_SECONDS} s apart)"
while :; do
  # curl prints 000 as the status when no HTTP answer came; its exit status says why.
  if code=$(vault_curl --output /dev/null --write-out '%{http_code}' "${API}/sys/health" 2>/dev/null); then
    curl_status=0
  else
    curl_status=$?
  fi
  case "$code" in
    200 | 472 | 473)
      log "${SERVER} is already unsealed (HTTP ${code} from sys/health): nothing to do"
      exit 0
      ;;
    429)
      log "${SERVER} is already unsealed (HTTP 429 from sys/health): nothing to unseal"
      wait_active
      ;;
    501)
      log "${SERVER} is not initialized (HTTP 501 from sys/health): nothing to unseal"
      exit 0
      ;;
    503)
      log "${SERVER} is sealed (HTTP 503 from sys/health) after ${attempt} attempt(s)"
      break
      ;;
  esac
  # Exit statuses from https://curl.se/libcurl/c/libcurl-errors.html
  case "$curl_status" in
    0) why="HTTP ${code} from sys/health" ;;
    7) why="connection refused (curl exit 7)" ;;
    28) why="no answer within the time limit (curl exit 28)" ;;
    35) why="TLS handshake failed (curl exit 35)" ;;
    # 60: the certificate is not signed by our CA or names another host; 77: the CA file cannot be
    # read. Retrying cannot fix either: say so now instead of looping until the deadline.
    60) fail "${SERVER}'s certificate is not trusted by ${CA_FILE} or does not name 127.0.0.1 (curl exit 60)" ;;
    77) fail "cannot read the CA certificate ${CA_FILE} (curl exit 77)" ;;
    *) why="curl exit ${curl_status}" ;;
  esac
  if [ "$attempt" -ge "$WAIT_ATTEMPTS" ] || [ "$(date +%s)" -ge "$deadline" ]; then
    fail "${SERVER} did not answer at ${API}/sys/health after ${attempt} attempts; last: ${why}"
  fi
  # The first failure and then every tenth: enough to follow a slow boot without flooding the journal.
  if [ "$attempt" -eq 1 ] || [ $(( attempt % 10 )) -eq 0 ]; then
    log "${SERVER} is not answering yet (attempt ${attempt}/${WAIT_ATTEMPTS}: ${why})"
  fi
  attempt=$(( attempt + 1 ))
  sleep "$WAIT_INTERVAL_SECONDS"
done

# --- 2. the keys file --------------------------------------------------------------------------
[ -e "$KEYS_FILE" ] || fail "the keys file ${KEYS_FILE} does not exist: ${SERVER} stays sealed (unseal it with picluster-vault-tui unseal, or run its setup again to write the file)"
[ -f "$KEYS_FILE" ] || fail "${KEYS_FILE} is not a regular file"
[ -r "$KEYS_FILE" ] || fail "cannot read ${KEYS_FILE}"
mode=$(stat -c '%a' -- "$KEYS_FILE")
case "$mode" in
  600 | 400) ;;
  *) log "warning: ${KEYS_FILE} has mode ${mode}; it should be 600 (only root may read unseal keys)" ;;
esac

# One line: "ok <keys> <threshold>" or a word naming what is wrong. Keys are only counted here.
if ! shape=$(jq -r '
    (.keys // .unseal_keys_hex // .unseal_keys_b64) as $keys
    | if ($keys | type) != "array" or ($keys | length) == 0 then "no-keys"
      elif any($keys[]; type != "string" or length == 0) then "bad-key"
      else (.threshold // .unseal_threshold // ($keys | length)) as $t
        | if ($t | type) != "number" or $t < 1 or $t != ($t | floor) then "bad-threshold"
          elif $t > ($keys | length) then "few-keys \($keys | length) \($t)"
          else "ok \($keys | length) \($t)" end
      end' < "$KEYS_FILE" 2>/dev/null); then
  fail "${KEYS_FILE} is not valid JSON"
fi
case "$shape" in
  "ok "*) ;;
  no-keys) fail "${KEYS_FILE} has no key list (expected a non-empty \"keys\" array, or unseal_keys_hex/unseal_keys_b64)" ;;
  bad-key) fail "${KEYS_FILE} has an empty or non-string entry in its key list" ;;
  bad-threshold) fail "${KEYS_FILE} has a threshold that is not a whole number >= 1" ;;
  few-keys*)
    counts=${shape#few-keys }
    fail "${KEYS_FILE} holds ${counts%% *} key(s) but the threshold is ${counts#* }: it cannot unseal ${SERVER}"
    ;;
  *) fail "${KEYS_FILE} could not be read as a keys file" ;;
esac
counts=${shape#ok }
key_count=${counts%% *}
threshold=${counts#* }
log "read ${KEYS_FILE}: ${key_count} key(s), threshold ${threshold}"

# --- 3. unseal ---------------------------------------------------------------------------------
# A half-finished attempt (someone's keys typed before a crash) would mix with ours: start from zero.
status=$(vault_curl "${API}/sys/seal-status") || fail "cannot read ${API}/sys/seal-status"
progress=$(printf '%s' "$status" | jq -r '.progress // 0' 2>/dev/null) || progress=0
if [ "$progress" != 0 ]; then
  log "an unseal attempt was in progress (${progress} key(s) given); resetting it"
  printf '{"reset":true}' | vault_curl --output /dev/null --request PUT --data @- "${API}/sys/unseal" || fail "could not reset the unseal progress"
fi

index=0
while [ "$index" -lt "$threshold" ]; do
  number=$(( index + 1 ))
  # The body {"key": "..."} is made by jq from the file (on stdin) and goes to curl on stdin.
  answer=$(jq -c --argjson index "$index" '{key: (.keys // .unseal_keys_hex // .unseal_keys_b64)[$index]}' < "$KEYS_FILE" 2>/dev/null \
    | vault_curl --request PUT --header 'Content-Type: application/json' --data @- --write-out "${NEWLINE}%{http_code}" "${API}/sys/unseal") || :
  code=${answer##*"$NEWLINE"}
  body=${answer%"$NEWLINE"*}
  if [ "$code" != 200 ]; then
    # Someone else may have unsealed it meanwhile; that is success too.
    sealed_now=$(vault_curl "${API}/sys/seal-status" | jq -r '.sealed' 2>/dev/null) || sealed_now=unknown
    if [ "$sealed_now" = false ]; then
      log "${SERVER} was unsealed meanwhile (not by this script): nothing left to unseal"
      wait_active
    fi
    if [ "$code" = 000 ]; then fail "could not send key ${number} of ${threshold}: ${SERVER} stopped answering"; fi
    fail "${SERVER} rejected key ${number} of ${threshold} (HTTP ${code}): $(printf '%s' "$body" | describe_errors)"
  fi
  if ! state=$(printf '%s' "$body" | jq -r '"\(.sealed) \(.progress) \(.t)"' 2>/dev/null); then
    fail "${SERVER}'s answer to key ${number} is not JSON"
  fi
  if [ "${state%% *}" = false ]; then
    log "${SERVER} is unsealed (${number} key(s) submitted)"
    wait_active
  fi
  log "key ${number} accepted (progress $(printf '%s' "${state#* }" | tr ' ' '/'))"
  index=$number
done
fail "${SERVER} is still sealed after ${threshold} key(s): the keys in ${KEYS_FILE} do not open this ${SERVER} (was it initialized again?)"
