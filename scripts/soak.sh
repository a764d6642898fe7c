#!/usr/bin/env bash
# Tessera's load and fault test (docs/reliability.md), loopback only.
#
# A private PostgreSQL cluster (initdb in a temporary directory, its own
# port; the machine's PostgreSQL on 5432 is never touched), N tenants × M
# clients (client_secret_basic, private_key_jwt, tls_client_auth), two
# `tessera serve` instances on it (same master key). Then: capacity (closed
# loop, a few seconds); the steady phase: open-loop mixed traffic at --load of
# that capacity over every secret and key client and both instances, with the
# servers' RSS every interval; then, still under load: admin writes through
# the admin API, PostgreSQL stopped (pg_ctl stop -m fast) for --outage
# seconds and started again, /readyz during the outage, every acknowledged
# write looked for afterwards; and kill -9 of the second instance. The
# figures and the verdict are printed (scripts/soak/analyze.py).
#
#   scripts/soak.sh                 # documented run: 100 × 100 clients, 600 s steady
#   scripts/soak.sh --quick         # ≈ 90 s all told: 20 × 50 clients, 30 s steady
#
# Options: --duration S (steady phase)  --tenants N  --clients M  --load F (0.7)
#          --capacity-seconds S  --outage S (10)  --interval S (0.5)
#          --no-build  --keep  --out DIR (copy the results there)
# Needs: taskset, openssl, curl, python3, PostgreSQL 15 server binaries
# (/usr/lib/postgresql/15/bin; override with PG_BIN), 2 CPUs.
set -euo pipefail

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }

quick=0 duration="" tenants="" clients="" load=0.7 cap_secs="" outage=10 interval=0.5
build=1 keep=0 out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --duration) duration=$2; shift 2 ;;
        --tenants) tenants=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --load) load=$2; shift 2 ;;
        --capacity-seconds) cap_secs=$2; shift 2 ;;
        --outage) outage=$2; shift 2 ;;
        --interval) interval=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --keep) keep=1; shift ;;
        --out) out=$(realpath -m -- "$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "scripts/soak.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ "$quick" = 1 ]; then
    duration=${duration:-30} tenants=${tenants:-20} clients=${clients:-50} cap_secs=${cap_secs:-4}
else
    duration=${duration:-600} tenants=${tenants:-100} clients=${clients:-100} cap_secs=${cap_secs:-10}
fi

cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tessera-target}"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
started=$SECONDS
say() { echo "scripts/soak.sh [$(date -u +%H:%M:%S)]: $*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

for var in $(compgen -e); do
    case "$var" in TESSERA_*) unset "$var" ;; esac
done
for tool in taskset openssl curl python3 "$PG_BIN/initdb" "$PG_BIN/pg_ctl"; do
    command -v "$tool" >/dev/null 2>&1 || { say "missing $tool"; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { say "needs 2 CPUs (servers on CPU 0, load generator on CPU 1)"; exit 1; }
SERVER_CPU=0 LOAD_CPU=1

if [ "$build" = 1 ]; then
    say "cargo build --release -p tessera-server -p tessera-bench"
    cargo build --release --locked -p tessera-server -p tessera-bench
fi
# The binaries are copied (a build during the run cannot change them) under
# names of their own, in a directory whose name says nothing of Tessera
# either: on a shared machine, someone else's `pkill -f tessera` must not
# end this run's servers.
work=$(mktemp -d "${TMPDIR:-/tmp}/soakrun.XXXXXX")
mkdir -p "$work/bin"
cp "$CARGO_TARGET_DIR/release/tessera" "$work/bin/ts-server"
cp "$CARGO_TARGET_DIR/release/tessera-bench" "$work/bin/ts-load"
bin="$work/bin"

pids=()
pg_data="$work/pg/data"
# stop, free_ports, end_work
source "$root/scripts/lib/run.sh"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
finish() {
    local status=$?
    stop "${pids[@]}"
    [ -f "$pg_data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$pg_data" stop -m immediate >/dev/null 2>&1 || true
    end_work "$status" 20
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

event() { echo "{\"event\": \"$1\", \"unix_ms\": $(now_ms)${2:+, $2}}" >>"$work/events.jsonl"; }
: >"$work/events.jsonl"

# --- a private PostgreSQL cluster -----------------------------------------------------
read -r pg_port http_a http_b mtls_a mtls_b < <(free_ports 5)
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg" && chmod 755 "$work"
say "private PostgreSQL on 127.0.0.1:$pg_port ($pg_data)"
as_pg "$PG_BIN/initdb" -D "$pg_data" -U postgres -A trust --no-sync >"$work/initdb.log" 2>&1
pg_start() {
    as_pg "$PG_BIN/pg_ctl" -D "$pg_data" -l "$work/pg/postgres.log" -w -t 60 \
        -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
}
pg_start
psql_q() { psql -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
psql_q -d postgres -c "CREATE DATABASE tessera"
db_url="postgres://postgres@127.0.0.1:$pg_port/tessera"

# --- data set and servers -------------------------------------------------------------------
"$bin/ts-server" dev-certs --dir "$work/certs" >/dev/null 2>&1
certs="$work/certs"
export TESSERA_MASTER_KEY TESSERA_ADMIN_BOOTSTRAP_TOKEN
TESSERA_MASTER_KEY=$(openssl rand -base64 32)
TESSERA_ADMIN_BOOTSTRAP_TOKEN=$(openssl rand -hex 32)
export TESSERA_DATABASE_URL=$db_url TESSERA_HTTP_WORKERS=1
# Both instances are one issuer (a fleet behind one name).
export TESSERA_PUBLIC_URL="https://127.0.0.1:$http_a"
export TESSERA_HTTP_TLS_CERT="$certs/server.pem" TESSERA_HTTP_TLS_KEY="$certs/server.key"
say "seeding $tenants tenants × $clients clients"
"$bin/ts-load" seed --tenants "$tenants" --clients "$clients" --prefix soak --threads 2 \
    --anchor "$certs/ca.pem" --all-credentials-out "$work/credentials.txt" >"$work/seed.json"
cat "$work/seed.json" >&2

start_instance() { # NAME HTTP_PORT MTLS_PORT: prints the pid
    (
        export TESSERA_HTTP_LISTEN="127.0.0.1:$2"
        export TESSERA_MTLS_LISTEN="127.0.0.1:$3" TESSERA_MTLS_PUBLIC_URL="https://127.0.0.1:$3"
        cd "$work" && exec taskset -c "$SERVER_CPU" "$bin/ts-server" serve
    ) >"$work/$1.log" 2>&1 &
    echo $!
}
wait_ready() { # URL PID
    for _ in $(seq 1 600); do
        kill -0 "$2" 2>/dev/null || { say "the server exited before it was ready"; return 1; }
        curl -sf -o /dev/null --max-time 2 --cacert "$certs/ca.pem" "$1" && return 0
        sleep 0.05
    done
    say "$1 not ready in time"
    return 1
}
pid_a=$(start_instance tessera-a "$http_a" "$mtls_a")
pids+=("$pid_a")
pid_b=$(start_instance tessera-b "$http_b" "$mtls_b")
pids+=("$pid_b")
base_a="https://127.0.0.1:$http_a" base_b="https://127.0.0.1:$http_b"
wait_ready "$base_a/readyz" "$pid_a"
wait_ready "$base_b/readyz" "$pid_b"
say "instances: A $base_a (pid $pid_a), B $base_b (pid $pid_b), both on CPU $SERVER_CPU; load generator on CPU $LOAD_CPU"

soak() { # ARGS...
    taskset -c "$LOAD_CPU" "$bin/ts-load" soak --credentials "$work/credentials.txt" \
        --instances "$base_a,$base_b" --issuer "$TESSERA_PUBLIC_URL" --ca "$certs/ca.pem" \
        --server-pids "$pid_a,$pid_b" --interval "$interval" "$@"
}

# --- capacity ------------------------------------------------------------------------------
say "capacity: closed loop, 64 in flight, $cap_secs s"
soak --closed 64 --duration "$cap_secs" >"$work/capacity.jsonl" 2>"$work/capacity.log"
capacity=$(tail -n 1 "$work/capacity.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok_per_s"])')
rate=$(python3 -c "print(round($capacity * $load))")
say "capacity $capacity tokens/s; open loop at $rate requests/s ($load)"
[ "$rate" -gt 0 ] || { say "no capacity measured"; exit 1; }
event capacity "\"capacity\": $capacity, \"rate\": $rate, \"steady_s\": $duration, \"outage_s\": $outage"

# --- steady phase, then the faults, under one continuous load --------------------------------
tail_after_kill=12 settle=12
total=$(python3 -c "print($duration + 3 + $outage + $settle + $tail_after_kill)")
say "open loop: $duration s steady, then the faults ($total s in all)"
soak --rate "$rate" --duration "$total" >"$work/soak.jsonl" 2>"$work/soak.log" &
soak_pid=$!
pids+=("$soak_pid")
t0=$(now_ms)
event soak_start
sleep_until() { # SECONDS after t0
    local ms
    ms=$(python3 -c "print(max(0, $t0 + int(($1) * 1000) - $(now_ms)) / 1000)")
    sleep "$ms"
}

# Admin writes through the admin API, alternating instances, every 100 ms:
# "unix_ms instance client_id http_code seconds".
admin_writer() {
    local n=0 base inst code
    while :; do
        n=$((n + 1))
        if [ $((n % 2)) = 0 ]; then base=$base_a inst=A; else base=$base_b inst=B; fi
        code=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 --cacert "$certs/ca.pem" \
            -H "Authorization: Bearer $TESSERA_ADMIN_BOOTSTRAP_TOKEN" -H 'Content-Type: application/json' \
            -d "{\"client_id\": \"w$n\", \"token_endpoint_auth_method\": \"client_secret_basic\"}" \
            "$base/admin/v1/tenants/soak0001/clients" || echo "000 0")
        echo "$(now_ms) $inst w$n $code" >>"$work/admin-writes.txt"
        sleep 0.1
    done
}
sleep_until "$duration"
say "steady phase over; admin writes start"
: >"$work/admin-writes.txt"
admin_writer &
writer_pid=$!
pids+=("$writer_pid")
sleep_until "$duration + 3"
say "stopping PostgreSQL (pg_ctl stop -m fast)"
event pg_stop_begin
as_pg "$PG_BIN/pg_ctl" -D "$pg_data" stop -m fast -w >/dev/null
event pg_stopped
sleep 2
for b in A B; do
    url=$base_a
    [ "$b" = B ] && url=$base_b
    curl -s -o "$work/readyz-outage-$b.json" -w '%{http_code} %{time_total}\n' --max-time 30 \
        --cacert "$certs/ca.pem" "$url/readyz" >"$work/readyz-outage-$b.status" || true
done
sleep_until "$duration + 3 + $outage"
say "starting PostgreSQL"
event pg_start_begin
pg_start
event pg_started
sleep 8
stop "$writer_pid"
sleep_until "$duration + 3 + $outage + $settle"
say "kill -9 instance B (pid $pid_b)"
kill -0 "$pid_b" 2>/dev/null || { say "instance B had already exited (see $work/tessera-b.log)"; exit 1; }
kill -9 "$pid_b"
event kill_b "\"instance\": 1"
wait "$soak_pid" || { say "the load generator failed"; exit 1; }
event soak_end
say "load over"

# --- acknowledged admin writes: are they all there? -----------------------------------------
: >"$work/admin-verify.txt"
while read -r ts inst id code secs; do
    api=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$certs/ca.pem" \
        -H "Authorization: Bearer $TESSERA_ADMIN_BOOTSTRAP_TOKEN" "$base_a/admin/v1/tenants/soak0001/clients/$id")
    rows=$(psql_q -d tessera -c "SELECT count(*) FROM clients WHERE tenant_id = 'soak0001' AND client_id = '$id'")
    echo "$ts $inst $id $code $secs $api $rows" >>"$work/admin-verify.txt"
done <"$work/admin-writes.txt"
curl -s -o "$work/readyz-after-A.json" --max-time 10 --cacert "$certs/ca.pem" "$base_a/readyz" || true

stop "$pid_a"
verdict=0
python3 "$root/scripts/soak/analyze.py" "$work" >"$work/summary.txt" || verdict=$?
cat "$work/summary.txt"
if [ -n "$out" ]; then
    mkdir -p "$out"
    cp "$work"/{summary.txt,summary.json,soak.jsonl,capacity.jsonl,events.jsonl,admin-verify.txt,seed.json} "$out/" 2>/dev/null || true
    say "results copied to $out"
fi
say "done in $((SECONDS - started)) s"
exit "$verdict"
