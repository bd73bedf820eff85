#!/usr/bin/env bash
# Runs the benchmark matrix of BENCHMARKS.md: every case RUNS times against
# Ferry and, where it applies, against franz-go's in-memory kfake as the
# baseline, in the same session. Prints one line per case with the median.
#
#   scripts/bench.sh            # full matrix (about 15 minutes)
#   RUNS=5 CASES="p100" scripts/bench.sh
#   RUNS=1 CASES="group txn" GROUP_RECORDS=100000 TXN_PLAIN_RECORDS=100000 \
#     TXN10_RECORDS=5000 TXN1000_RECORDS=100000 scripts/bench.sh   # a quick smoke run
#
# Needs: go, python3. Uses ports 19192 (ferry) and 19193 (kfake).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CASES=${CASES:-"p100 p1k lat consume parts backlog group txn"}
OUT=${OUT:-/tmp/ferry-bench}
FERRY_ADDR=127.0.0.1:19192
KFAKE_ADDR=127.0.0.1:19193
mkdir -p "$OUT"
go build -o "$OUT/ferry" ./cmd/ferry
go build -o "$OUT/kfakeserve" ./tools/kfakeserve
FERRY="$OUT/ferry"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_ferry() { # fresh data dir each time
  rm -rf "$OUT/data"
  "$FERRY" serve --data-dir "$OUT/data" --kafka-addr "$FERRY_ADDR" --http-addr "${HTTP_ADDR:-}" --log-level warn "$@" >"$OUT/ferry.log" 2>&1 &
  FERRY_PID=$!; pids+=("$FERRY_PID")
  for _ in $(seq 50); do "$FERRY" topic list --brokers "$FERRY_ADDR" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "ferry did not start"; cat "$OUT/ferry.log"; exit 1
}
stop_ferry() { kill "$FERRY_PID"; wait "$FERRY_PID" 2>/dev/null || true; }
start_kfake() {
  "$OUT/kfakeserve" --addr "$KFAKE_ADDR" >"$OUT/kfake.log" 2>&1 &
  KFAKE_PID=$!; pids+=("$KFAKE_PID"); sleep 0.5
}
stop_kfake() { kill "$KFAKE_PID"; wait "$KFAKE_PID" 2>/dev/null || true; }

# median FIELD FILE...: median of a JSON field over result files.
median() {
  python3 - "$@" <<'PY'
import json, statistics, sys
field, files = sys.argv[1], sys.argv[2:]
vals = []
for f in files:
    d = json.load(open(f))
    for k in field.split('.'):
        d = d[k]
    vals.append(d)
print(f"{statistics.median(vals):.6g}", "runs=" + ",".join(f"{v:.4g}" for v in vals))
PY
}

seq_n=0
# produce ADDR NAME TOPIC_CONFIG ARGS...: RUNS runs, each on a new topic.
produce() {
  local addr=$1 name=$2 tcfg=$3; shift 3
  local files=()
  for r in $(seq "$RUNS"); do
    seq_n=$((seq_n+1))
    local topic="bench-$seq_n"
    if [ -n "$tcfg" ]; then
      "$FERRY" topic create "$topic" --brokers "$addr" --partitions "${PARTS:-4}" --config "$tcfg" >/dev/null
    else
      "$FERRY" topic create "$topic" --brokers "$addr" --partitions "${PARTS:-4}" >/dev/null
    fi
    "$FERRY" bench produce --brokers "$addr" --topic "$topic" --json "$@" 2>/dev/null >"$OUT/$name.$r.json"
    files+=("$OUT/$name.$r.json")
  done
  printf '%-44s rec/s %s | MB/s %s | p50ms %s | p99ms %s\n' "$name" \
    "$(median records_per_sec "${files[@]}" | cut -d' ' -f1)" "$(median mb_per_sec "${files[@]}" | cut -d' ' -f1)" \
    "$(median latency_ms.p50 "${files[@]}" | cut -d' ' -f1)" "$(median latency_ms.p99 "${files[@]}" | cut -d' ' -f1)"
  echo "    records/s per run: $(median records_per_sec "${files[@]}" | cut -d' ' -f2)"
}

for c in $CASES; do
  case $c in
  p100)
    start_kfake; start_ferry
    for prods in 1 4; do
      produce "$KFAKE_ADDR" "kfake 100B acks=all producers=$prods" "" --records 3000000 --record-size 100 --producers $prods
      for pol in always os; do
        produce "$FERRY_ADDR" "ferry 100B acks=all $pol producers=$prods" "flush.policy=$pol" --records 3000000 --record-size 100 --producers $prods
      done
    done
    produce "$KFAKE_ADDR" "kfake 100B acks=1 producers=1" "" --records 3000000 --record-size 100 --acks 1
    produce "$FERRY_ADDR" "ferry 100B acks=1 always producers=1" "flush.policy=always" --records 3000000 --record-size 100 --acks 1
    stop_ferry; stop_kfake ;;
  p1k)
    start_kfake; start_ferry
    for prods in 1 4; do
      produce "$KFAKE_ADDR" "kfake 1KiB acks=all producers=$prods" "" --records 600000 --record-size 1024 --producers $prods
      for pol in always os; do
        produce "$FERRY_ADDR" "ferry 1KiB acks=all $pol producers=$prods" "flush.policy=$pol" --records 600000 --record-size 1024 --producers $prods
      done
    done
    stop_ferry; stop_kfake ;;
  lat)
    start_kfake; start_ferry
    PARTS=1 produce "$KFAKE_ADDR" "kfake 100B one-at-a-time" "" --records 5000 --one-at-a-time
    PARTS=1 produce "$FERRY_ADDR" "ferry 100B one-at-a-time always" "flush.policy=always" --records 5000 --one-at-a-time
    stop_ferry; stop_kfake ;;
  consume)
    # A 10-million-record backlog of 100-byte records, read RUNS times.
    for target in kfake ferry; do
      if [ $target = kfake ]; then start_kfake; addr=$KFAKE_ADDR; else start_ferry; addr=$FERRY_ADDR; fi
      "$FERRY" topic create backlog --brokers "$addr" --partitions 4 --config flush.policy=os >/dev/null 2>&1 ||
        "$FERRY" topic create backlog --brokers "$addr" --partitions 4 >/dev/null
      "$FERRY" bench produce --brokers "$addr" --topic backlog --records 10000000 --record-size 100 --producers 2 --json >/dev/null 2>&1
      files=()
      for r in $(seq "$RUNS"); do
        "$FERRY" bench consume --brokers "$addr" --topic backlog --records 10000000 --json 2>/dev/null >"$OUT/consume-$target.$r.json"
        files+=("$OUT/consume-$target.$r.json")
      done
      printf '%-44s rec/s %s | MB/s %s\n' "$target consume 10M x 100B backlog" \
        "$(median records_per_sec "${files[@]}" | cut -d' ' -f1)" "$(median mb_per_sec "${files[@]}" | cut -d' ' -f1)"
      echo "    records/s per run: $(median records_per_sec "${files[@]}" | cut -d' ' -f2)"
      if [ $target = kfake ]; then stop_kfake; else stop_ferry; fi
    done ;;
  parts)
    start_kfake; start_ferry
    for n in 10 1000; do
      PARTS=$n produce "$KFAKE_ADDR" "kfake 100B $n partitions" "" --records 3000000
      PARTS=$n produce "$FERRY_ADDR" "ferry 100B always $n partitions" "flush.policy=always" --records 3000000
    done
    stop_ferry; stop_kfake ;;
  backlog)
    # Produce throughput on an empty topic, then again after the same topic
    # holds BACKLOG_GB of older data: RUNS runs each, medians, ratio.
    start_ferry
    gb=${BACKLOG_GB:-20}
    "$FERRY" topic create backlog --brokers "$FERRY_ADDR" --partitions 4 >/dev/null
    measure() {
      local files=()
      for r in $(seq "$RUNS"); do
        "$FERRY" bench produce --brokers "$FERRY_ADDR" --topic backlog --records 1000000 --record-size 1024 --json 2>/dev/null >"$OUT/backlog-$1.$r.json"
        files+=("$OUT/backlog-$1.$r.json")
      done
      median records_per_sec "${files[@]}"
    }
    empty=$(measure empty)
    "$FERRY" bench produce --brokers "$FERRY_ADDR" --topic backlog --records $((gb * 1024 * 1024)) --record-size 1024 \
      --producers 2 2>"$OUT/backlog.progress" >"$OUT/backlog.summary"
    sleep 10 # let the disk settle after the fill
    full=$(measure full)
    echo "ferry 1KiB always, 1M records: empty topic ${empty}"
    echo "ferry 1KiB always, 1M records: after ${gb} GiB backlog ${full}"
    python3 -c "import sys; print(f'    backlog/empty ratio {float(sys.argv[2])/float(sys.argv[1]):.2f}')" "${empty%% *}" "${full%% *}"
    echo "    fill: $(cat "$OUT/backlog.summary")"
    du -sh "$OUT/data"
    stop_ferry; rm -rf "$OUT/data" ;;
  group)
    # A 12-partition backlog of GROUP_RECORDS (2M) 100-byte records, read
    # RUNS times by 1 consumer without a group and by a new group of 4
    # members (each its own client). A group's records/s covers the whole
    # run, joining included (the broker's default 3 s initial rebalance
    # delay); "ready" is when every member had its first fetch, and "rec/s
    # from ready" the rate from then to the end.
    n=${GROUP_RECORDS:-2000000}
    start_ferry
    "$FERRY" topic create gbacklog --brokers "$FERRY_ADDR" --partitions 12 --config flush.policy=os >/dev/null
    "$FERRY" bench produce --brokers "$FERRY_ADDR" --topic gbacklog --records "$n" --record-size 100 --producers 2 --json >/dev/null 2>&1
    for members in 0 4; do
      files=()
      for r in $(seq "$RUNS"); do
        f="$OUT/group-$members.$r.json"
        if [ $members = 0 ]; then
          "$FERRY" bench consume --brokers "$FERRY_ADDR" --topic gbacklog --records "$n" --json 2>/dev/null >"$f"
        else
          "$FERRY" bench consume --brokers "$FERRY_ADDR" --topic gbacklog --records "$n" --group "bench-g$members-$r" \
            --consumers $members --json 2>/dev/null >"$f"
        fi
        files+=("$f")
      done
      if [ $members = 0 ]; then
        printf '%-44s rec/s %s | MB/s %s\n' "ferry consume 12 parts, 1 consumer" \
          "$(median records_per_sec "${files[@]}" | cut -d' ' -f1)" "$(median mb_per_sec "${files[@]}" | cut -d' ' -f1)"
      else
        printf '%-44s rec/s %s | MB/s %s | ready s %s | rec/s from ready %s\n' "ferry consume 12 parts, group of $members" \
          "$(median records_per_sec "${files[@]}" | cut -d' ' -f1)" "$(median mb_per_sec "${files[@]}" | cut -d' ' -f1)" \
          "$(median group_ready_seconds "${files[@]}" | cut -d' ' -f1)" "$(median ready_records_per_sec "${files[@]}" | cut -d' ' -f1)"
      fi
      echo "    records/s per run: $(median records_per_sec "${files[@]}" | cut -d' ' -f2)"
    done
    stop_ferry ;;
  txn)
    # 100-byte records, 1 producer, flush.policy=always: plain (no producer
    # id) vs idempotent producer, then transactions of 10 and of 1000
    # records (transactions/s, records/s, and the time from
    # BeginTransaction until the commit returned).
    txn_produce() { # NAME ARGS...: like produce, reporting transactions
      local name=$1; shift
      local files=()
      for r in $(seq "$RUNS"); do
        seq_n=$((seq_n+1))
        "$FERRY" topic create "bench-$seq_n" --brokers "$FERRY_ADDR" --partitions "${PARTS:-4}" --config flush.policy=always >/dev/null
        "$FERRY" bench produce --brokers "$FERRY_ADDR" --topic "bench-$seq_n" --json --transactional "$@" 2>/dev/null >"$OUT/$name.$r.json"
        files+=("$OUT/$name.$r.json")
      done
      printf '%-44s rec/s %s | txn/s %s | commit p50ms %s | p99ms %s\n' "$name" \
        "$(median records_per_sec "${files[@]}" | cut -d' ' -f1)" "$(median transactions_per_sec "${files[@]}" | cut -d' ' -f1)" \
        "$(median commit_latency_ms.p50 "${files[@]}" | cut -d' ' -f1)" "$(median commit_latency_ms.p99 "${files[@]}" | cut -d' ' -f1)"
      echo "    transactions/s per run: $(median transactions_per_sec "${files[@]}" | cut -d' ' -f2)"
    }
    start_ferry
    produce "$FERRY_ADDR" "ferry 100B always plain (no idempotence)" "flush.policy=always" --records "${TXN_PLAIN_RECORDS:-3000000}" --no-idempotence
    produce "$FERRY_ADDR" "ferry 100B always idempotent" "flush.policy=always" --records "${TXN_PLAIN_RECORDS:-3000000}"
    txn_produce "ferry 100B always txn of 10" --records "${TXN10_RECORDS:-100000}" --txn-records 10
    txn_produce "ferry 100B always txn of 1000" --records "${TXN1000_RECORDS:-3000000}" --txn-records 1000
    stop_ferry ;;
  esac
done
