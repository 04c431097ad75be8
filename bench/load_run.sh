#!/usr/bin/env bash
# The load test of issue 17, end to end, by hand (never in CI): make run's stack (gunicorn, a Celery
# worker, beat) on a seeded database, an API key for the API clients, locust headless for DURATION,
# then the stack stopped. Needs `pip install -e ".[bench]"` and a database seeded at 100k
# (`make bench SCALE=100k` seeds crm_bench_100k). The summary (p95 per page against 300 ms for staff
# pages, errors, most database connections) is printed at the end and kept in var/load_stats.csv.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_100k CELERY_BROKER_URL=redis://127.0.0.1:6379/7 \
#       bash bench/load_run.sh [DURATION, default 5m]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-5m}"
: "${DATABASE_URL:?set DATABASE_URL to the seeded database}"
: "${CELERY_BROKER_URL:?set CELERY_BROKER_URL}"
export DJANGO_SETTINGS_MODULE=crm_project.settings.local DEBUG=false ALLOWED_HOSTS=127.0.0.1,localhost
# Measured: pages and the API, not the second sign-in factor or the per-key rate limit.
export MFA_REQUIRED_ROLES="" API_THROTTLE_RATE="1000000/min" WEB_ACCESS_LOG=var/load_access.log
mkdir -p var
PASSWORD_FILE=var/demo-password.txt
test -s "$PASSWORD_FILE" || { echo "no $PASSWORD_FILE: seed the database with this checkout's seed_demo" >&2; exit 2; }

.venv/bin/python -m crm_project.launch run > var/load_stack.log 2>&1 &
STACK=$!
trap 'kill -TERM $STACK 2>/dev/null; wait $STACK 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fsS http://127.0.0.1:8000/healthz >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS http://127.0.0.1:8000/healthz >/dev/null

API_KEY=$(.venv/bin/python manage.py create_api_key "load-test-$(date +%s)" \
          --scopes customers:read,transactions:write --expires-in-days 1 2>/dev/null)
RM_COUNT=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM accounts_user WHERE username ~ '^rm[0-9]+$'")
LOAD_PASSWORD=$(cat "$PASSWORD_FILE") LOAD_API_KEY="$API_KEY" LOAD_RM_COUNT="$RM_COUNT" \
LOAD_DATABASE_URL="$DATABASE_URL" \
  .venv/bin/locust -f bench/load.py --headless -u 235 -r 20 -t "$DURATION" --host http://127.0.0.1:8000 \
    --csv var/load --only-summary
