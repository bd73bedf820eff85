#!/usr/bin/env bash
# Produce and consume throughput with ACL checks off and on, alternating
# (BENCHMARKS.md, "ACL checks"). Build first: go build -o /tmp/ab/ferry ./cmd/ferry
# The ACL data dir gets its bindings while enforcement is off (a broker
# enforcing ACLs without authentication has no one allowed to add them),
# then runs with --authorizer=true.
set -u
cd "${AB_DIR:-/tmp/ab}"
F=./ferry
ADDR=127.0.0.1:19493
B="--brokers $ADDR"
start() {
  $F serve --data-dir data-$1 --kafka-addr $ADDR --topic-default flush.policy=os --log-level warn "${@:2}" 2>>serve-$1.log &
  P=$!
  for _ in $(seq 100); do $F topic list $B >/dev/null 2>&1 && break; sleep 0.05; done
}
stop() { kill $P; wait $P 2>/dev/null; }
for v in plain acl; do
  rm -rf data-$v
  start $v
  $F topic create bench --partitions 3 $B >/dev/null
  if [ $v = acl ]; then
    for i in $(seq 1 100); do $F acl add --principal User:other$i --operation write --topic t$i $B >/dev/null; done
    for op in write read; do $F acl add --principal User:ANONYMOUS --operation $op --topic bench $B >/dev/null; done
    $F acl add --principal User:ANONYMOUS --operation read --group '*' $B >/dev/null
  fi
  stop
done
for round in 1 2 3; do
  for v in plain acl; do
    extra=""; [ $v = acl ] && extra="--authorizer=true"
    start $v $extra
    echo "$v $round $($F bench produce --topic bench --duration 6s --record-size 100 $B 2>&1 | grep -E ' in [0-9.]+s')"
    echo "$v $round $($F bench consume --topic bench --records 3000000 $B 2>&1 | grep -E ' in [0-9.]+s')"
    stop
  done
done
