#!/usr/bin/env bash
# Interleaved A/B of produce throughput with metrics on and off, one ferry
# binary: "on" serves /metrics (--http-addr) and is scraped every second
# during the run (Prometheus usually scrapes every 15 s), "off" has
# --http-addr= (no HTTP listener, the no-op metrics sink). RUNS runs each,
# alternating, each on a fresh data dir; prints every run's JSON and the
# medians. Pairs alternate their order (off-on, on-off, ...) because the
# second run of a pair is often slower; ORDER="off on" fixes it. SCRAPE=0
# leaves /metrics unscraped.
#   go build -o /tmp/ab/ferry ./cmd/ferry
#   RUNS=7 scripts/ab-metrics.sh --records 2000000 --record-size 100 --producers 4
set -u
cd "${AB_DIR:-/tmp/ab}"
ADDR=127.0.0.1:19592
HTTP=127.0.0.1:19593
RUNS=${RUNS:-7}
: > ab-metrics.out
for i in $(seq "$RUNS"); do
  order=${ORDER:-}
  if [ -z "$order" ]; then
    # ABBA: which one runs second in a pair (after the other's data was
    # written and while it is still being flushed) alternates.
    order="off on"; [ $((i % 2)) = 0 ] && order="on off"
  fi
  for v in $order; do
    rm -rf data-$v
    http=""
    [ $v = on ] && http=$HTTP
    ./ferry serve --data-dir data-$v --kafka-addr $ADDR --http-addr "$http" --log-level warn > serve-$v.log 2>&1 &
    P=$!
    for _ in $(seq 100); do ./ferry topic list --brokers $ADDR >/dev/null 2>&1 && break; sleep 0.05; done
    # The broker's CPU time (user+system, clock ticks) during the run only:
    # less sensitive than throughput to what else the machine runs.
    t0=$(awk '{print $14+$15}' /proc/$P/stat)
    S=""
    if [ $v = on ] && [ "${SCRAPE:-1}" = 1 ]; then
      (while sleep 1; do curl -s "http://$HTTP/metrics" > /dev/null; done) &
      S=$!
    fi
    out=$(./ferry bench produce --brokers $ADDR --topic b --partitions 4 "$@" --json 2>/dev/null)
    [ -n "$S" ] && kill "$S" && wait "$S" 2>/dev/null
    load=$(cut -d' ' -f1 /proc/loadavg)
    ticks=$(( $(awk '{print $14+$15}' /proc/$P/stat) - t0 ))
    echo "$v $i load=$load cpu_ticks=$ticks $out" | tee -a ab-metrics.out
    kill $P; wait $P 2>/dev/null
  done
done
rm -rf data-on data-off
python3 - ab-metrics.out <<'PY'
import json, statistics, sys
runs = {"on": [], "off": []}
cpu = {"on": [], "off": []}
for line in open(sys.argv[1]):
    v, _, _, ticks, js = line.split(" ", 4)
    r = json.loads(js)
    runs[v].append(r["mb_per_sec"])
    cpu[v].append(int(ticks.split("=")[1]) * 10 / (r["bytes"] / 2**20))  # ms of broker CPU per MB (100 ticks/s)
for v in ("off", "on"):
    print(v, "MB/s:", ", ".join(f"{x:.0f}" for x in runs[v]), "median", f"{statistics.median(runs[v]):.1f}",
          "| broker CPU ms/MB:", ", ".join(f"{x:.1f}" for x in cpu[v]), "median", f"{statistics.median(cpu[v]):.2f}")
print("median throughput on/off:", f"{statistics.median(runs['on']) / statistics.median(runs['off']):.3f}",
      "| median CPU per MB on/off:", f"{statistics.median(cpu['on']) / statistics.median(cpu['off']):.3f}")
PY
