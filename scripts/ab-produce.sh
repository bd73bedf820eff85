#!/usr/bin/env bash
# Interleaved A/B of produce throughput between two ferry binaries, the same
# client (ferry-new's bench) for both: five runs each, alternating, each on a
# fresh data dir. Build the two first, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && go build -o /tmp/ab/ferry-old ./cmd/ferry)
#   go build -o /tmp/ab/ferry-new ./cmd/ferry
#   scripts/ab-produce.sh --records 2000000 --record-size 100 --producers 4
# Prints one JSON summary per run, prefixed with old/new and the run number.
set -u
cd "${AB_DIR:-/tmp/ab}"
ADDR=127.0.0.1:19492
for i in 1 2 3 4 5; do
  for v in old new; do
    rm -rf data-$v
    ./ferry-$v serve --data-dir data-$v --kafka-addr $ADDR --http-addr "${HTTP_ADDR:-}" --log-level warn > serve-$v.log 2>&1 &
    P=$!
    for _ in $(seq 100); do ./ferry-new topic list --brokers $ADDR >/dev/null 2>&1 && break; sleep 0.05; done
    out=$(./ferry-new bench produce --brokers $ADDR --topic b --partitions 4 "$@" --json 2>/dev/null)
    echo "$v $i $out"
    kill $P; wait $P 2>/dev/null
  done
done
rm -rf data-old data-new
