#!/usr/bin/env bash
# Schemathesis against a live server: the OpenAPI document the server publishes
# (/api/schema/) is the contract, and every operation is called with generated inputs,
# anonymously and with a compliance officer's token. Checks: no 5xx, each status declared,
# each body as its schema says. A fresh SQLite database in a temporary folder (migrate,
# reference and demo data); gunicorn on a free loopback port; everything removed after.
#
#   bash .ci/services/schemathesis.sh   # FUZZ_EXAMPLES=N cases per operation (default 25)
#
# The coverage phase (boundary values of every parameter) is thorough but takes ~8 min;
# FUZZ_PHASES=examples,coverage,fuzzing runs it.
# Exits non-zero on any failure. Reports (JUnit, one per role) stay in FUZZ_REPORT_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${BIN:-.venv/bin}"
EXAMPLES="${FUZZ_EXAMPLES:-25}"
PHASES="${FUZZ_PHASES:-examples,fuzzing}"
SEED="${FUZZ_SEED:-20261206}"
# Parallel workers race in CPython 3.11's ast.parse (hypothesis reads generator lambdas'
# source) in the coverage phase: "AST constructor recursion depth mismatch". One there.
case "$PHASES" in *coverage*) default_workers=1 ;; *) default_workers=4 ;; esac
WORKERS="${FUZZ_WORKERS:-$default_workers}"
work="$(mktemp -d /tmp/registry-fuzz.XXXXXX)"
REPORTS="${FUZZ_REPORT_DIR:-$work/reports}"
server_pid=""

stop() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  [ -n "${FUZZ_REPORT_DIR:-}" ] || rm -rf "$work"
}
trap stop EXIT

# Development settings on a throwaway database; no throttling (it would answer 429s
# instead of exercising the operations).
# FUZZ_DATABASE_URL: an empty database of your own instead (PostgreSQL, say).
export DEBUG=1 DATABASE_URL="${FUZZ_DATABASE_URL:-sqlite:///$work/db.sqlite3}" MEDIA_ROOT="$work/media" \
  API_THROTTLE_ANON="" API_THROTTLE_USER="" LOG_LEVEL=WARNING DEMO_DATA=1 \
  CREDENTIAL_SIGNING_KEYS_FILE="$work/credential-keys.json"
port="$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export PORT="$port"
base="http://127.0.0.1:$port"

echo "== fuzz: database in $work"
"$BIN/python" manage.py migrate --no-input -v0
"$BIN/python" manage.py load_reference >/dev/null
"$BIN/python" manage.py load_demo >/dev/null
# A signing key of its own: credential routes answer, not 503 (no key).
"$BIN/python" manage.py credential_devkey >/dev/null

# A compliance officer of an organisation that has a company.
"$BIN/python" manage.py shell -v0 -c '
from django.contrib.auth import get_user_model
from registry.models import Company, Membership, Organisation
org = Organisation.objects.filter(company__isnull=False).order_by("pk").first()
if org is None:
    company = Company.objects.order_by("pk").first()
    org = Organisation.objects.create(name="Fuzz compliance", kind="company", company=company)
user, _ = get_user_model().objects.get_or_create(username="fuzz-member")
Membership.objects.update_or_create(user=user, defaults={"organisation": org, "role": "compliance_officer"})
'
commands="$("$BIN/python" manage.py help --commands)"
if grep -qx create_token <<<"$commands"; then
  token="$("$BIN/python" manage.py create_token fuzz-member --name fuzz | tail -n 1)"
else
  token="$("$BIN/python" manage.py drf_create_token fuzz-member | tail -n 1 | awk '{print $3}')"
fi
[ -n "$token" ] || { echo "no token for fuzz-member" >&2; exit 1; }

"$BIN/gunicorn" config.wsgi -b "127.0.0.1:$port" --workers 2 --threads 4 --timeout 60 \
  --log-level warning --error-logfile "$work/server.log" &
server_pid=$!
for _ in $(seq 60); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done

mkdir -p "$REPORTS"
status=0
run() {
  local role="$1"; shift
  echo "== fuzz: $role ($EXAMPLES cases per operation)"
  "$BIN/schemathesis" run "$base/api/schema/" --url "$base" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --phases "$PHASES" --max-examples "$EXAMPLES" --seed "$SEED" \
    --generation-database none --workers "$WORKERS" --request-timeout 30 --no-color \
    --output-truncate true --report junit --report-junit-path "$REPORTS/$role.xml" "$@" ||
    status=1
}
run anonymous
run member -H "Authorization: Token $token"

if [ "$status" -ne 0 ]; then
  echo "== fuzz: server errors logged:"
  grep -A30 -m5 "Traceback\|Internal Server Error" "$work/server.log" || true
fi
exit "$status"
