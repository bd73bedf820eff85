#!/usr/bin/env bash
# What TLS, SASL and ACLs cost: one `ferry serve` with a plaintext and a
# TLS listener, the same produce and consume benchmarks against each,
# interleaved (plain, TLS, ACL, plain, ...) so that load on the machine
# hits every variant alike. Prints every run and the medians.
#
#   RUNS=3 RECORDS=1000000 scripts/bench-tls.sh
#
# Needs: go, openssl, python3. Uses ports 19292 (plaintext) and 19293 (TLS).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
RECORDS=${RECORDS:-1000000}
SIZE=${SIZE:-100}
OUT=${OUT:-/tmp/ferry-bench-tls}
PLAIN=127.0.0.1:19292
TLS=127.0.0.1:19293
rm -rf "$OUT"; mkdir -p "$OUT"
go build -o "$OUT/ferry" ./cmd/ferry
FERRY="$OUT/ferry"

# A CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$OUT/ca-key.pem" -out "$OUT/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$OUT/server-key.pem" -out "$OUT/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$OUT/ext.cnf"
openssl x509 -req -in "$OUT/server.csr" -CA "$OUT/ca.pem" -CAkey "$OUT/ca-key.pem" -CAcreateserial \
  -days 1 -extfile "$OUT/ext.cnf" -out "$OUT/server.pem" 2>/dev/null

"$FERRY" serve --data-dir "$OUT/data" --kafka-addr "$PLAIN" --kafka-tls-addr "$TLS" \
  --tls-cert "$OUT/server.pem" --tls-key "$OUT/server-key.pem" \
  --sasl-mechanisms SCRAM-SHA-512 --bootstrap-user bench:bench-pw --superusers User:bench \
  --topic-default flush.policy=os --log-level warn >"$OUT/ferry.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
export FERRY_SASL_USER=bench FERRY_SASL_PASSWORD=bench-pw
for _ in $(seq 100); do "$FERRY" topic list --brokers "$PLAIN" >/dev/null 2>&1 && break; sleep 0.1; done

# SASL is required on both listeners (it is one setting), so "plain" is
# SASL_PLAINTEXT and "tls" SASL_SSL: authentication happens once per
# connection, the steady state differs by TLS alone. Requiring SASL turns
# ACL checks on: "plain" and "tls" run as the superuser bench (no lookup),
# "acl" as SASL_PLAINTEXT user app, whose every request is checked against
# the bindings below (and 100 of other users).
echo app-pw | "$FERRY" user create app --mechanism SCRAM-SHA-512 --brokers "$PLAIN" >/dev/null
for i in $(seq 100); do "$FERRY" acl add --principal "User:other$i" --operation write --topic "t$i" --brokers "$PLAIN" >/dev/null; done
for op in write read create; do "$FERRY" acl add --principal User:app --operation $op --topic p- --prefixed --brokers "$PLAIN" >/dev/null; done
"$FERRY" acl add --principal User:app --operation read --topic backlog --brokers "$PLAIN" >/dev/null
declare -A ARGS=([plain]="--brokers $PLAIN" [tls]="--brokers $TLS --tls-ca $OUT/ca.pem" [acl]="--brokers $PLAIN --sasl-user app --sasl-password app-pw")
"$FERRY" topic create backlog --partitions 4 --brokers "$PLAIN" >/dev/null
"$FERRY" bench produce --topic backlog --records "$RECORDS" --record-size "$SIZE" --brokers "$PLAIN" >/dev/null

run() { # variant op
  local v=$1 op=$2 topic
  if [ "$op" = produce ]; then
    topic="p-$v-$RANDOM"
    "$FERRY" bench produce --topic "$topic" --partitions 4 2>/dev/null --records "$RECORDS" --record-size "$SIZE" --json ${ARGS[$v]}
  else
    "$FERRY" bench consume --topic backlog --records "$RECORDS" --json ${ARGS[$v]}
  fi
}
# Warm up: the backlog in the page cache, both listeners' code paths hot.
run plain consume >/dev/null; run tls consume >/dev/null; run acl consume >/dev/null
for op in produce consume; do
  for i in $(seq "$RUNS"); do
    for v in plain tls acl; do
      run "$v" "$op" | python3 -c "import json,sys; d=json.load(sys.stdin); print('$op $v run $i', round(d['records_per_sec']), round(d['mb_per_sec'],1))"
    done
  done
done | tee "$OUT/runs.txt"
python3 - "$OUT/runs.txt" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    op, v, _, _, rps, mbs = line.split()
    runs[(op, v)].append((float(rps), float(mbs)))
for (op, v), xs in sorted(runs.items()):
    print(f"median {op:8} {v:6} {statistics.median(r for r, _ in xs)/1e6:.2f} M rec/s {statistics.median(m for _, m in xs):.0f} MB/s  (runs: {', '.join(f'{r/1e6:.2f}' for r, _ in xs)})")
PY
