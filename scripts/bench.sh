#!/usr/bin/env bash
# Tessera's benchmark, side by side with node-oidc-provider (docs/benchmarks.md).
#
# One run on this machine: builds the binaries; measures the crypto costs
# (openssl speed, the rustls handshake); starts Tessera (http.workers = 1,
# pinned to CPU 0) on SQLite, then on PostgreSQL (its backends moved to
# CPU 1 for that phase), then the peer
# (oidc-provider, pinned to CPU 0); runs every scenario against each with
# tessera-bench pinned to CPU 1; measures start-up and RSS with a seeded
# 1,000 × 100 data set; prints one table and writes JSON and an SVG chart.
#
#   scripts/bench.sh                  # full run (release build, 3 passes of 8 s each)
#   scripts/bench.sh --smoke          # CI: every scenario ~2 s once, debug build;
#                                     # fails unless every one has zero errors
#   scripts/bench.sh --out docs       # also write docs/images/benchmark.svg
#
# Options: --passes N  --duration S  --warmup S  --connections N
#          --no-peer  --no-postgres  --no-seed  --no-gateway  --no-build
#          --profile release|dev  --seed-tenants N  --seed-clients M  --keep
#          --note TEXT (printed with the table and under the chart)
# Needs: taskset, openssl, curl, python3, Node.js >= 20 with npm (peer),
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; started if down).
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

smoke=0 passes="" duration="" warmup="" connections=64 profile="" note=""
peer=1 postgres=1 seed=1 gateway=1 build=1 keep=0 out=""
seed_tenants="" seed_clients=""
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1; shift ;;
        --passes) passes=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --profile) profile=$2; shift 2 ;;
        --no-peer) peer=0; shift ;;
        --no-postgres) postgres=0; shift ;;
        --no-seed) seed=0; shift ;;
        --no-gateway) gateway=0; shift ;;
        --no-build) build=0; shift ;;
        --seed-tenants) seed_tenants=$2; shift 2 ;;
        --seed-clients) seed_clients=$2; shift 2 ;;
        --out) out=$(realpath -m -- "$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        --note) note=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "scripts/bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ "$smoke" = 1 ]; then
    passes=${passes:-1} duration=${duration:-2} warmup=${warmup:-0.5} profile=${profile:-dev}
    seed_tenants=${seed_tenants:-20} seed_clients=${seed_clients:-10}
else
    passes=${passes:-3} duration=${duration:-8} warmup=${warmup:-2} profile=${profile:-release}
    seed_tenants=${seed_tenants:-1000} seed_clients=${seed_clients:-100}
fi

cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tessera-target}"
started=$SECONDS
PEER_VERSION=$(python3 -c 'import json;print(json.load(open("scripts/bench/package.json"))["dependencies"]["oidc-provider"])')

say() { echo "scripts/bench.sh: $*" >&2; }

# Only the settings made here reach the servers and the CLI.
for var in $(compgen -e); do
    case "$var" in TESSERA_*) unset "$var" ;; esac
done

# --- tools --------------------------------------------------------------------
missing=()
for tool in taskset openssl curl python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ "$postgres" = 0 ] || command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]/taskset/util-linux} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]/taskset/util-linux}" >/dev/null
fi
if [ "$peer" = 1 ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
    say "Node.js (>= 20) and npm are needed for the peer (or pass --no-peer)"
    exit 1
fi
ncpu=$(nproc)
if [ "$ncpu" -lt 2 ]; then
    say "needs at least 2 CPUs (server on CPU 0, load generator on CPU 1)"
    exit 1
fi
SERVER_CPU=0 LOAD_CPU=1 ALL_CPUS="0-$((ncpu - 1))"

# --- build --------------------------------------------------------------------
case "$profile" in
    release) bin="$CARGO_TARGET_DIR/release"; cargo_profile=(--release) ;;
    dev) bin="$CARGO_TARGET_DIR/debug"; cargo_profile=() ;;
    *) say "--profile release or dev"; exit 2 ;;
esac
if [ "$build" = 1 ]; then
    say "cargo build ${cargo_profile[*]} -p tessera-server -p tessera-bench -p tessera-gateway"
    cargo build "${cargo_profile[@]}" --locked -p tessera-server -p tessera-bench -p tessera-gateway
fi
for b in tessera tessera-bench tessera-gateway; do
    [ -x "$bin/$b" ] || { say "no binary at $bin/$b"; exit 1; }
done

# --- work directory, clean-up ----------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")
# A copy of the binaries, so that a build during the run cannot change them.
mkdir -p "$work/bin"
cp "$bin/tessera" "$bin/tessera-bench" "$bin/tessera-gateway" "$work/bin/"
bin="$work/bin"
results="$work/results.jsonl"
: >"$results"
pids=()
pg_db=""
# stop, free_ports, end_work
source "$root/scripts/lib/run.sh"
# PostgreSQL's postmaster, while its CPU set is moved (pin_postgres).
pg_postmaster="" pg_postmaster_mask=""
finish() {
    local status=$?
    stop "${pids[@]}"
    unpin_postgres
    if [ -n "$pg_db" ]; then
        psql -q -h 127.0.0.1 -p 5432 -U postgres -d postgres \
            -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    end_work "$status" 40
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM


fact() { python3 -c 'import json,sys; print(json.dumps({"kind": "facts", sys.argv[1]: sys.argv[2]}))' "$1" "$2" >>"$results"; }

wait_ready() { # URL PID [CERT_ARGS...]
    local url=$1 pid=$2
    shift 2
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || { say "the server exited before it was ready"; return 1; }
        if curl -sf -o /dev/null --max-time 2 --cacert "$work/certs/ca.pem" "$@" "$url"; then
            return 0
        fi
        sleep 0.01
    done
    say "$url did not answer within the time allowed"
    return 1
}

# --- keys and certificates --------------------------------------------------------
say "work directory $work"
"$bin/tessera" dev-certs --dir "$work/certs" >/dev/null 2>&1
certs="$work/certs"
mtls_dn="CN=bench-mtls,O=Tessera bench"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$certs/client.key" \
    -subj "/O=Tessera bench/CN=bench-mtls" -out "$certs/client.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$certs/client.ext"
openssl x509 -req -in "$certs/client.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$certs/client.ext" -out "$certs/client.pem" 2>/dev/null
for alg in ES256 RS256 EdDSA; do
    id=$(echo "$alg" | tr 'A-Z' 'a-z')
    "$bin/tessera-bench" keygen --alg "$alg" --kid "bench-$id" --key-out "$work/$id.key" --jwks-out "$work/$id.jwks.json"
done

# --- the machine and the crypto ceilings ------------------------------------------
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem_gib=$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
fact machine "$ncpu CPUs ($cpu_model), $mem_gib GiB, $(uname -sr)"
fact versions "$(openssl version | cut -d' ' -f1-2); $(node --version 2>/dev/null | sed 's/^/Node.js /') oidc-provider $PEER_VERSION; profile $profile"
[ -z "$note" ] || fact note "$note"
fact method "$connections connections, warm-up ${warmup} s, $passes pass(es) of ${duration} s (median), server on CPU $SERVER_CPU, tessera-bench on CPU $LOAD_CPU"
speed_file="" s_new_file="" s_reuse_file=""
if [ "$smoke" = 0 ]; then
    say "openssl speed (CPU $SERVER_CPU)"
    speed_file="$work/openssl-speed.txt"
    taskset -c "$SERVER_CPU" openssl speed -seconds 2 ecdsap256 rsa2048 ed25519 >"$speed_file" 2>/dev/null
    say "ring and rustls handshake costs (CPU $SERVER_CPU)"
    taskset -c "$SERVER_CPU" "$bin/tessera-bench" crypto-cost --ca "$certs/ca.pem" \
        --server-cert "$certs/server.pem" --server-key "$certs/server.key" \
        --client-cert "$certs/client.pem" --client-key "$certs/client.key" >>"$results"
fi

# --- load ---------------------------------------------------------------------------
bench() { # TARGET SERVER_PID ARGS...: one scenario, JSON lines into results
    local target=$1 server_pid=$2
    shift 2
    taskset -c "$LOAD_CPU" "$bin/tessera-bench" run --json --target "$target" --server-pid "$server_pid" \
        --ca "$certs/ca.pem" --connections "$connections" --warmup "$warmup" --duration "$duration" \
        --passes "$passes" --signing-cpus "$ALL_CPUS" "$@" >>"$results"
}

token_scenarios() { # TARGET PID TOKEN_URL MTLS_TOKEN_URL AUDIENCE SECRET RATE_HINT
    local target=$1 pid=$2 url=$3 murl=$4 aud=$5 secret=$6 hint=$7 alg id
    bench "$target" "$pid" --scenario client_secret_basic --url "$url" --client-id bench-secret --client-secret="$secret"
    for alg in ES256 RS256 EdDSA; do
        id=$(echo "$alg" | tr 'A-Z' 'a-z')
        bench "$target" "$pid" --scenario private_key_jwt --url "$url" --alg "$alg" --signing-key "$work/$id.key" \
            --kid "bench-$id" --client-id "bench-$id" --audience "$aud" --rate-hint "$hint"
    done
    for mode in keepalive new resume; do
        bench "$target" "$pid" --scenario tls_client_auth --connection "$mode" --url "$murl" \
            --cert "$certs/client.pem" --key "$certs/client.key" --client-id bench-mtls
    done
}

tessera_env() { # DB_URL HTTP_PORT MTLS_PORT
    export TESSERA_MASTER_KEY="$master_key" TESSERA_DATABASE_URL=$1
    export TESSERA_PUBLIC_URL="https://127.0.0.1:$2"
    export TESSERA_HTTP_LISTEN="127.0.0.1:$2" TESSERA_HTTP_WORKERS=1
    export TESSERA_HTTP_TLS_CERT="$certs/server.pem" TESSERA_HTTP_TLS_KEY="$certs/server.key"
    export TESSERA_MTLS_LISTEN="127.0.0.1:$3" TESSERA_MTLS_PUBLIC_URL="https://127.0.0.1:$3"
}

start_tessera() { # LOG: sets server_pid
    (cd "$work" && exec taskset -c "$SERVER_CPU" "$bin/tessera" serve) >"$1" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
}

master_key=$(openssl rand -base64 32)

run_tessera() { # BACKEND DB_URL
    local backend=$1 db=$2 http_port mtls_port secret
    read -r http_port mtls_port < <(free_ports 2)
    tessera_env "$db" "$http_port" "$mtls_port"
    local base="https://127.0.0.1:$http_port" mtls="https://127.0.0.1:$mtls_port"
    say "Tessera on $backend: bench tenant and clients (CLI)"
    "$bin/tessera" tenant create bench --settings '{"default_audience": "https://api.bench.example"}' >/dev/null
    secret=$("$bin/tessera" client create bench --id bench-secret --auth client_secret_basic --scope bench:read 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    for alg in ES256 RS256 EdDSA; do
        id=$(echo "$alg" | tr 'A-Z' 'a-z')
        "$bin/tessera" client create bench --id "bench-$id" --auth private_key_jwt --jwks-file "$work/$id.jwks.json" \
            --signing-alg "$alg" --scope bench:read >/dev/null
    done
    "$bin/tessera" trust-anchor add bench --pem-file "$certs/ca.pem" >/dev/null
    "$bin/tessera" client create bench --id bench-mtls --auth tls_client_auth --scope bench:read \
        --metadata "{\"tls_client_auth_subject_dn\": \"$mtls_dn\", \"tls_client_certificate_bound_access_tokens\": true}" >/dev/null
    say "Tessera on $backend: serving $base (mTLS $mtls), CPU $SERVER_CPU"
    start_tessera "$work/tessera-$backend.log"
    wait_ready "$base/readyz" "$server_pid"
    token_scenarios "tessera-$backend" "$server_pid" "$base/t/bench/oauth2/token" "$mtls/t/bench/oauth2/token" \
        "$base/t/bench" "$secret" 10000
    if [ "$backend" = sqlite ] && [ "$smoke" = 0 ]; then
        say "openssl s_time against the mTLS listener (CPU $LOAD_CPU)"
        s_new_file="$work/s_time-new.txt" s_reuse_file="$work/s_time-reuse.txt"
        for kind in new reuse; do
            local t0
            t0=$(date +%s%N)
            taskset -c "$LOAD_CPU" openssl s_time -connect "127.0.0.1:$mtls_port" -"$kind" -time 5 \
                -cert "$certs/client.pem" -key "$certs/client.key" -CAfile "$certs/ca.pem" -www /healthz \
                >"$work/s_time-$kind.txt" 2>&1 || true
            # s_time reports real time in whole seconds: time it here.
            echo "wall_ms $((($(date +%s%N) - t0) / 1000000))" >>"$work/s_time-$kind.txt"
        done
    fi
    if [ "$backend" = sqlite ] && [ "$gateway" = 1 ]; then
        run_gateway "$base/t/bench" "$mtls/t/bench/oauth2/token"
    fi
    stop "$server_pid"
}

run_gateway() { # ISSUER MTLS_TOKEN_URL
    local gw_port up_pid gw_pid
    read -r gw_port < <(free_ports 1)
    "$bin/tessera-bench" upstream --listen 127.0.0.1:0 --addr-file "$work/upstream.addr" >"$work/upstream.log" 2>&1 &
    up_pid=$!
    pids+=("$up_pid")
    for _ in $(seq 1 100); do [ -s "$work/upstream.addr" ] && break; sleep 0.05; done
    cat >"$work/gateway.toml" <<EOF
listen = "127.0.0.1:$gw_port"
tls_cert = "$certs/server.pem"
tls_key = "$certs/server.key"
upstream = "http://$(cat "$work/upstream.addr")"
issuers = ["$1"]
ca_file = "$certs/ca.pem"
audience = "https://api.bench.example"
require_binding = true
EOF
    say "tessera-gateway on https://127.0.0.1:$gw_port, CPU $SERVER_CPU"
    taskset -c "$SERVER_CPU" "$bin/tessera-gateway" --config "$work/gateway.toml" >"$work/gateway.log" 2>&1 &
    gw_pid=$!
    pids+=("$gw_pid")
    # Up once it answers at all (401 without a token).
    for _ in $(seq 1 200); do
        kill -0 "$gw_pid" 2>/dev/null || { say "tessera-gateway exited"; return 1; }
        curl -s -o /dev/null --max-time 2 --cacert "$certs/ca.pem" "https://127.0.0.1:$gw_port/" && break
        sleep 0.05
    done
    bench tessera-sqlite "$gw_pid" --scenario gateway --url "https://127.0.0.1:$gw_port/orders" \
        --token-url "$2" --client-id bench-mtls --cert "$certs/client.pem" --key "$certs/client.key"
    stop "$gw_pid" "$up_pid"
}

# PostgreSQL's work off the server's core, on the load generator's, as if
# the database ran on a host of its own (as deployed): left to the kernel, a
# backend doing the replay cache's commits on CPU 0 cost the assertion rows
# a quarter of their rate (docs/benchmarks.md, "Method"). Backends are
# forked by the postmaster and inherit its CPU set, so the postmaster is
# moved for the PostgreSQL phase only and put back after it (and on exit);
# the backends forked meanwhile end with their connections.
pin_postgres() {
    local data_dir
    data_dir=$(psql -At -h 127.0.0.1 -p 5432 -U postgres -d postgres -c "SHOW data_directory" 2>/dev/null) || data_dir=""
    pg_postmaster=$(head -n 1 "$data_dir/postmaster.pid" 2>/dev/null) || pg_postmaster=""
    if [ -n "$pg_postmaster" ] &&
        pg_postmaster_mask=$(taskset -p "$pg_postmaster" 2>/dev/null | sed 's/.*: //') &&
        taskset -p -c "$LOAD_CPU" "$pg_postmaster" >/dev/null 2>&1; then
        fact postgres "PostgreSQL's backends on CPU $LOAD_CPU (the load generator's)"
    else
        say "could not move PostgreSQL's processes to CPU $LOAD_CPU; the kernel places them"
        fact postgres "PostgreSQL's backends not pinned (placed by the kernel)"
        pg_postmaster=""
    fi
}
unpin_postgres() {
    if [ -n "$pg_postmaster" ] && [ -n "$pg_postmaster_mask" ]; then
        taskset -p "$pg_postmaster_mask" "$pg_postmaster" >/dev/null 2>&1 || say "could not restore PostgreSQL's CPU set"
    fi
    pg_postmaster=""
}

# --- Tessera, SQLite then PostgreSQL ---------------------------------------------------
mkdir -p "$work/sqlite"
run_tessera sqlite "sqlite://$work/sqlite/tessera.db"

if [ "$postgres" = 1 ]; then
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        say "PostgreSQL is not answering on 127.0.0.1:5432; starting it"
        if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
            for version in $(ls /etc/postgresql); do
                pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
            done
        fi
        for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 0.5; done
    fi
    pg_db="tessera_bench_$(date +%s)_$$"
    psql -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -c "CREATE DATABASE $pg_db" >/dev/null
    pin_postgres
    run_tessera postgres "postgres://postgres@127.0.0.1:5432/$pg_db"
    unpin_postgres
fi

# --- the peer: oidc-provider ---------------------------------------------------------------
if [ "$peer" = 1 ]; then
    say "installing oidc-provider $PEER_VERSION (npm ci) for the peer"
    mkdir -p "$work/peer"
    cp scripts/bench/package.json scripts/bench/package-lock.json scripts/bench/peer.mjs "$work/peer/"
    (cd "$work/peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/peer-signing.key" 2>/dev/null
    peer_secret=$(openssl rand -hex 32)
    read -r peer_port peer_mtls_port < <(free_ports 2)
    say "peer on https://127.0.0.1:$peer_port (mTLS $peer_mtls_port), CPU $SERVER_CPU"
    (
        cd "$work/peer"
        export NODE_ENV=production PEER_PORT=$peer_port PEER_MTLS_PORT=$peer_mtls_port
        export PEER_RESOURCE=https://api.bench.example PEER_CA="$certs/ca.pem"
        export PEER_TLS_CERT="$certs/server.pem" PEER_TLS_KEY="$certs/server.key"
        export PEER_SIGNING_KEY="$work/peer-signing.key" PEER_CLIENT_SECRET="$peer_secret"
        export PEER_JWKS_ES256="$work/es256.jwks.json" PEER_JWKS_RS256="$work/rs256.jwks.json"
        export PEER_JWKS_EDDSA="$work/eddsa.jwks.json" PEER_MTLS_SUBJECT_DN="$mtls_dn"
        exec taskset -c "$SERVER_CPU" node peer.mjs
    ) >"$work/peer.log" 2>&1 &
    peer_pid=$!
    pids+=("$peer_pid")
    wait_ready "https://127.0.0.1:$peer_port/.well-known/openid-configuration" "$peer_pid"
    token_scenarios peer "$peer_pid" "https://127.0.0.1:$peer_port/token" "https://127.0.0.1:$peer_mtls_port/token" \
        "https://127.0.0.1:$peer_port" "$peer_secret" 3000
    stop "$peer_pid"
fi

# --- start-up and memory with the seeded data set ---------------------------------------------
if [ "$seed" = 1 ]; then
    mkdir -p "$work/seeded"
    read -r http_port mtls_port < <(free_ports 2)
    tessera_env "sqlite://$work/seeded/tessera.db" "$http_port" "$mtls_port"
    say "seeding $seed_tenants tenants × $seed_clients clients (SQLite)"
    "$bin/tessera-bench" seed --tenants "$seed_tenants" --clients "$seed_clients" --anchor "$certs/ca.pem" \
        --credentials-out "$work/seeded/credentials.txt" >>"$results"
    t0=$(date +%s%N)
    start_tessera "$work/tessera-seeded.log"
    wait_ready "https://127.0.0.1:$http_port/readyz" "$server_pid"
    startup_ms=$((($(date +%s%N) - t0) / 1000000))
    rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
    say "serving the seeded data set after $startup_ms ms; load over every tenant"
    bench tessera-sqlite "$server_pid" --scenario client_secret_basic --name client_secret_basic_seeded \
        --url "https://127.0.0.1:$http_port/t/{tenant}/oauth2/token" --tenants-file "$work/seeded/credentials.txt"
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
    fact "seeded data set" "$seed_tenants tenants × $seed_clients clients (SQLite): ready (/readyz 200) $startup_ms ms after start; RSS $((rss_idle / 1024)) MiB at start, $((rss / 1024)) MiB after the load over every tenant (peak $((hwm / 1024)) MiB)"
    stop "$server_pid"
fi

# --- report -----------------------------------------------------------------------------
outdir="$CARGO_TARGET_DIR/bench/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$outdir"
cp "$results" "$outdir/results.jsonl"
for f in "$speed_file" "$s_new_file" "$s_reuse_file"; do [ -n "$f" ] && cp "$f" "$outdir/" || true; done
report=("$bin/tessera-bench" report --results "$results" --json-out "$outdir/benchmark.json" --svg-out "$outdir/benchmark.svg")
[ -n "$speed_file" ] && report+=(--openssl-speed "$speed_file")
[ -n "$s_new_file" ] && report+=(--s-time-new "$s_new_file" --s-time-reuse "$s_reuse_file")
[ "$smoke" = 1 ] && report+=(--check)
echo
"${report[@]}" | tee "$outdir/table.md"
echo
if [ -n "$out" ]; then
    mkdir -p "$out/images"
    cp "$outdir/benchmark.svg" "$out/images/benchmark.svg"
    say "chart written to $out/images/benchmark.svg"
fi
say "results in $outdir (results.jsonl, benchmark.json, benchmark.svg, table.md); $((SECONDS - started)) s"
