#!/usr/bin/env bash
# Restart time after kill -9 (issue 7, defect 9): fills a topic with GB of
# data over P partitions (flush.policy=always, the default), SIGKILLs the
# broker while a producer is still writing, and times the restart until the
# broker answers a Metadata request (`ferry topic list`). Also times a
# restart after a clean stop. Prints the median of RUNS kills per case and
# the load average at each run (the numbers are only comparable at similar
# load).
#
#   scripts/restart-bench.sh                            # 10 GB over 100 and 1,000 partitions
#   GB=1 PARTS="100" RUNS=1 scripts/restart-bench.sh    # quick
#
# Listens on ADDR (default 127.0.0.1:29292). Needs about GB*1.1 of free disk
# under OUT per case.
set -euo pipefail
cd "$(dirname "$0")/.."
GB=${GB:-10}
PARTS=${PARTS:-"100 1000"}
RUNS=${RUNS:-3}
OUT=${OUT:-/tmp/ferry-restart-bench}
ADDR=${ADDR:-127.0.0.1:29292}
mkdir -p "$OUT"
go build -o "$OUT/ferry" ./cmd/ferry
FERRY="$OUT/ferry"
PID=""
BP=""
cleanup() {
	if [ -n "$BP" ]; then kill "$BP" 2>/dev/null || true; fi
	if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

# start sets PID and SECS: seconds from exec until the broker answers.
start() {
	local t0 t1
	t0=$(date +%s%N)
	"$FERRY" serve --data-dir "$OUT/data" --kafka-addr "$ADDR" --http-addr "${HTTP_ADDR:-}" --log-level info >>"$OUT/ferry.log" 2>&1 &
	PID=$!
	until "$FERRY" topic list --brokers "$ADDR" --timeout 2s >/dev/null 2>&1; do
		kill -0 "$PID" 2>/dev/null || { echo "ferry exited; see $OUT/ferry.log" >&2; exit 1; }
		sleep 0.02
	done
	t1=$(date +%s%N)
	SECS=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for P in $PARTS; do
	rm -rf "$OUT/data"
	: >"$OUT/ferry.log"
	start
	records=$((GB * 1000000)) # 1,000-byte records
	echo "== $P partitions: writing ${GB} GB"
	"$FERRY" bench produce --brokers "$ADDR" --topic restart --partitions "$P" \
		--records "$records" --record-size 1000 --producers 4 >/dev/null
	du -sh "$OUT/data"
	times=()
	for r in $(seq "$RUNS"); do
		# kill -9 while a producer is writing, so every active segment has an unflushed tail
		"$FERRY" bench produce --brokers "$ADDR" --topic restart --duration 4s --record-size 1000 >/dev/null 2>&1 &
		BP=$!
		sleep 2
		kill -9 "$PID"
		wait "$PID" 2>/dev/null || true
		# bench produce waits for ever for records its dead broker never
		# answered (idempotent records in flight are never timed out)
		kill -9 "$BP" 2>/dev/null || true
		wait "$BP" 2>/dev/null || true
		BP=""
		load=$(cut -d' ' -f1 /proc/loadavg)
		start
		times+=("$SECS")
		echo "P=$P run=$r restart after kill -9: $SECS s (load $load)"
	done
	echo "P=$P median restart after kill -9: $(printf '%s\n' "${times[@]}" | median) s over $RUNS runs"
	stop
	load=$(cut -d' ' -f1 /proc/loadavg)
	start
	echo "P=$P restart after clean stop: $SECS s (load $load)"
	stop
	grep -h "partitions opened" "$OUT/ferry.log" | tail -$((RUNS + 1)) || true
done
rm -rf "$OUT/data"
