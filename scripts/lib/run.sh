# Shared by scripts/bench.sh and scripts/soak.sh (sourced): stopping the
# processes a run started, free loopback ports, and the end of a run's work
# directory. Expects `work`, `keep`, `started` and a `say` function.

stop() { # PID...: TERM, up to 5 s, then KILL
    local pid
    for pid in "$@"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

free_ports() { # N: N free ports on 127.0.0.1, on one line
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
' "$1"
}

end_work() { # STATUS LOG_LINES: on failure show each log's tail and keep the work directory
    local status=$1 lines=$2 log
    if [ "$status" -ne 0 ]; then
        for log in "$work"/*.log; do
            [ -f "$log" ] || continue
            echo "---- $log (last $lines lines) ----" >&2
            tail -n "$lines" "$log" >&2
        done
        say "FAILED after $((SECONDS - started)) s; kept $work"
    elif [ "$keep" = 1 ]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
}
