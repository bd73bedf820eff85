#!/usr/bin/env bash
# Produce throughput of one node against a three-node cluster (replication
# factor 3, acks=all), the same bench in the same run, alternating; each
# run on fresh data dirs. Build first: go build -o /tmp/cb/ferry ./cmd/ferry
#   scripts/cluster-bench.sh --records 1000000 --record-size 100 --producers 4
# Prints one JSON summary per run, prefixed with single/cluster and the run.
set -u
cd "${CB_DIR:-/tmp/cb}"
RUNS=${RUNS:-3}
HTTP=()
./ferry serve -h 2>&1 | grep -q -- -http-addr && HTTP=(--http-addr "")
wait_up() { for _ in $(seq 200); do ./ferry topic list --brokers "$1" >/dev/null 2>&1 && return; sleep 0.05; done; }
for i in $(seq "$RUNS"); do
  rm -rf single n1 n2 n3
  ./ferry serve --data-dir single --kafka-addr 127.0.0.1:19592 "${HTTP[@]}" --log-level warn > single.log 2>&1 &
  P=$!
  wait_up 127.0.0.1:19592
  echo "single $i $(./ferry bench produce --brokers 127.0.0.1:19592 --topic b --partitions 3 "$@" --json 2>/dev/null)"
  kill $P; wait $P 2>/dev/null
  Q=1@127.0.0.1:19701,2@127.0.0.1:19702,3@127.0.0.1:19703
  PIDS=()
  for n in 1 2 3; do
    ./ferry serve --node-id $n --data-dir n$n --kafka-addr 127.0.0.1:1960$n "${HTTP[@]}" --controller-addr 127.0.0.1:1970$n \
      --controller-quorum $Q --log-level warn > n$n.log 2>&1 &
    PIDS+=($!)
  done
  wait_up 127.0.0.1:19601
  sleep 2
  echo "cluster $i $(./ferry bench produce --brokers 127.0.0.1:19601,127.0.0.1:19602,127.0.0.1:19603 --topic b --partitions 3 "$@" --json 2>/dev/null)"
  # Replication check: with RF 3 every node holds every partition.
  echo "cluster $i partition dirs per node: $(ls -d n1/b-* | wc -l) $(ls -d n2/b-* | wc -l) $(ls -d n3/b-* | wc -l)" >&2
  kill "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null
done
rm -rf single n1 n2 n3
