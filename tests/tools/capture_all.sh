#!/usr/bin/env bash
# Regenerates the request-frame fixtures in src/protocol/tests/captures/ from real Kafka clients:
# kcat and confluent-kafka (both librdkafka), kafka-python, and from tests/clients (npm ci) kafkajs
# and @platformatic/kafka.
#
# For each profile of advertised versions (high, flex, mid, low: see capture_broker.py) and each
# client, it starts tests/tools/capture_broker.py on a free port, drives the client through a
# producer and a consumer (each step bounded by `timeout`), and stops the broker by its PID. A
# capture is written once: the first run that sees an (api, version) of a client keeps it. The old
# captures are removed first; at the end every capture is sanity-parsed (capture_broker.py --check).
#
#   tests/tools/capture_all.sh                              # all clients, their profiles
#   CLIENTS="kcat kafkajs" PROFILES=high tests/tools/capture_all.sh
#   CAPTURE_OUT=/tmp/captures CAPTURE_LOGS=/tmp/logs tests/tools/capture_all.sh
#
# A client that is not installed is skipped with a warning. Needs: kcat, python3 with confluent_kafka
# and kafka (Debian: python3-confluent-kafka, python3-kafka), node and npm for tests/clients.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

out=${CAPTURE_OUT:-src/protocol/tests/captures}
clients=${CLIENTS:-kcat confluent-kafka kafka-python kafkajs platformatic-kafka}
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
broker_script=tests/tools/capture_broker.py

work=$(mktemp -d)
logs=${CAPTURE_LOGS:-$work}  # set CAPTURE_LOGS=DIR to keep the broker logs
mkdir -p "$logs"
broker_pid=""
bootstrap=""
failures=0

stop_broker() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null
    wait "$broker_pid" 2>/dev/null
    broker_pid=""
  fi
}
trap 'stop_broker; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

start_broker() {  # client profile
  rm -f "$work/port"
  "$py" "$broker_script" --out "$out" --client "$1" --profile "$2" --port-file "$work/port" \
    --lifetime 150 --max-frames 3000 --idle 30 --verbose 2>"$logs/broker-$1-$2.log" &
  broker_pid=$!
  for _ in $(seq 100); do
    [ -s "$work/port" ] && break
    sleep 0.1
  done
  if [ ! -s "$work/port" ]; then
    echo "capture_all: the capture broker did not start" >&2
    cat "$logs/broker-$1-$2.log" >&2
    return 1
  fi
  bootstrap="127.0.0.1:$(cat "$work/port")"
}

step() {  # description command...: runs a bounded client step, reports failure, goes on
  local what=$1
  shift
  local rc=0
  "$@" >"$logs/client.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "capture_all:   warning: $what failed (exit $rc):" >&2
    tail -n 20 "$logs/client.log" >&2
    failures=$((failures + 1))
  fi
}

run_kcat() {
  step "kcat -L" timeout -k 5 20 kcat -b "$bootstrap" -L
  # shellcheck disable=SC2016  # $1 is expanded by the inner bash
  step "kcat -P" timeout -k 5 20 bash -c 'printf "floe-key:hello from kcat\n" | kcat -b "$1" -P -t capture -p 0 -K :' _ "$bootstrap"
  step "kcat -C" timeout -k 5 20 kcat -b "$bootstrap" -C -t capture -p 0 -o beginning -c 1 -e -q
}

run_confluent_kafka() {
  step "confluent-kafka producer/consumer" timeout -k 5 40 "$py" - "$bootstrap" <<'PY'
import sys, time
import confluent_kafka as ck

bootstrap = sys.argv[1]
p = ck.Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 15000})
p.produce("capture", key=b"floe-key", value=b"hello from confluent-kafka", partition=0)
if p.flush(20):
    sys.exit("producer: message not delivered")

c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "floe-capture", "enable.auto.commit": False})
c.assign([ck.TopicPartition("capture", 0, ck.OFFSET_BEGINNING)])
deadline = time.time() + 15
got = None
while time.time() < deadline and got is None:
    m = c.poll(0.5)
    if m is not None and not m.error():
        got = m
c.close()
if got is None:
    sys.exit("consumer: no message")
PY
}

run_kafka_python() {
  step "kafka-python producer/consumer" timeout -k 5 40 "$py" - "$bootstrap" <<'PY'
import sys, time
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap = sys.argv[1]
p = KafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10000, max_block_ms=10000)
p.send("capture", key=b"floe-key", value=b"hello from kafka-python", partition=0).get(timeout=15)
p.close(5)

c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, request_timeout_ms=10000)
tp = TopicPartition("capture", 0)
c.assign([tp])
c.seek(tp, 0)
deadline = time.time() + 15
got = False
while time.time() < deadline and not got:
    got = bool(c.poll(timeout_ms=500))
c.close()
if not got:
    sys.exit("consumer: no message")
PY
}

npm_clients() {  # installs tests/clients/node_modules from the lock file when a module is missing
  [ -d "tests/clients/node_modules/$1" ] && return 0
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error) >"$logs/npm.log" 2>&1 && return 0
  echo "capture_all:   warning: npm ci in tests/clients failed (see $logs/npm.log); $1 skipped" >&2
  return 1
}

run_kafkajs() {
  npm_clients kafkajs || return
  step "kafkajs producer/consumer" env BOOTSTRAP="$bootstrap" KAFKAJS_NO_PARTITIONER_WARNING=1 \
    timeout -k 5 40 node - <<'JS'
const path = require('path');
const { Kafka, logLevel, Partitioners } = require(path.resolve('tests/clients/node_modules/kafkajs'));

const kafka = new Kafka({
  brokers: [process.env.BOOTSTRAP],
  logLevel: logLevel.ERROR,
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 2, initialRetryTime: 100 },
});

async function main() {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: 'capture', messages: [{ key: 'floe-key', value: 'hello from kafkajs', partition: 0 }] });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'floe-capture', sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: ['capture'], fromBeginning: true });
  const timer = setTimeout(() => { console.error('consumer: no message'); process.exit(1); }, 20000);
  await new Promise((resolve) => consumer.run({ eachMessage: async () => resolve() }));
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // long enough for a Heartbeat
  await consumer.disconnect(); // commits the offset, leaves the group
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
JS
}

run_platformatic_kafka() {
  npm_clients @platformatic/kafka || return
  step "@platformatic/kafka producer/consumer" env BOOTSTRAP="$bootstrap" \
    timeout -k 5 40 node --input-type=module - <<'JS'
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { Producer, Consumer, stringSerializers, stringDeserializers } =
  await import(pathToFileURL(resolve('tests/clients/node_modules/@platformatic/kafka/dist/index.js')).href);
const bootstrapBrokers = [process.env.BOOTSTRAP];
const timer = setTimeout(() => { console.error('timed out'); process.exit(1); }, 30000);

const producer = new Producer({ clientId: 'platformatic-kafka', bootstrapBrokers, serializers: stringSerializers,
                                timeout: 5000, retries: 1 });
await producer.send({ messages: [{ topic: 'capture', key: 'floe-key', value: 'hello from platformatic-kafka', partition: 0 }] });
await producer.close();

const consumer = new Consumer({ groupId: 'floe-capture', clientId: 'platformatic-kafka', bootstrapBrokers,
                                deserializers: stringDeserializers, timeout: 5000, retries: 1, maxWaitTime: 200 });
const stream = await consumer.consume({ autocommit: false, topics: ['capture'], mode: 'earliest',
                                        sessionTimeout: 10000, heartbeatInterval: 500 });
const message = await new Promise((res) => stream.once('data', res));
await message.commit();
await new Promise((res) => setTimeout(res, 1500)); // long enough for a Heartbeat
await stream.close();
await consumer.close();
clearTimeout(timer);
process.exit(0);
JS
}

have_client() {
  case "$1" in
    kcat) command -v kcat >/dev/null ;;
    confluent-kafka) "$py" -c 'import confluent_kafka' 2>/dev/null ;;
    kafka-python) "$py" -c 'import kafka' 2>/dev/null ;;
    kafkajs | platformatic-kafka) command -v node >/dev/null && [ -f tests/clients/package.json ] ;;
    *) echo "capture_all: unknown client $1" >&2; return 1 ;;
  esac
}

# Profiles per client: librdkafka, kafka-python and kafkajs speak no flexible Metadata/Produce/Fetch,
# so "flex" adds nothing for them; @platformatic/kafka speaks only flexible versions (Kafka 3.5+).
profiles_of() {
  if [ -n "${PROFILES:-}" ]; then
    echo "$PROFILES"
  elif [ "$1" = platformatic-kafka ]; then
    echo "high flex"
  else
    echo "high mid low"
  fi
}

mkdir -p "$out"
for client in $clients; do
  rm -f "$out/${client}__"*.bin "$out/${client}__"*.bin.tmp
done

for profile in high flex mid low; do  # in this order: the first run to see an (api, version) keeps it
  for client in $clients; do
    case " $(profiles_of "$client") " in *" $profile "*) ;; *) continue ;; esac
    if ! have_client "$client"; then
      echo "capture_all: $client is not installed; skipped" >&2
      continue
    fi
    echo "capture_all: $client, profile $profile"
    start_broker "$client" "$profile" || exit 1
    "run_${client//-/_}"
    stop_broker
  done
done

rm -f "$out"/*.bin.tmp

client_versions() {
  local v
  if v=$(kcat -V 2>/dev/null | sed -n 's/^Version \([^ ]*\) (.*librdkafka \([^ ]*\) .*/kcat \1, librdkafka \2/p') && [ -n "$v" ]; then
    echo "| \`kcat__\` | $v (Debian package kcat) |"
  fi
  if v=$("$py" -c 'import confluent_kafka as c; print("confluent-kafka %s (Python), librdkafka %s" % (c.version()[0], c.libversion()[0]))' 2>/dev/null); then
    echo "| \`confluent-kafka__\` | $v (Debian package python3-confluent-kafka) |"
  fi
  if v=$("$py" -c 'import kafka; print("kafka-python %s" % kafka.__version__)' 2>/dev/null); then
    echo "| \`kafka-python__\` | $v (Debian package python3-kafka) |"
  fi
  if v=$(node -p 'require("./tests/clients/node_modules/kafkajs/package.json").version' 2>/dev/null); then
    echo "| \`kafkajs__\` | kafkajs $v (npm, tests/clients/package-lock.json), Node $(node --version) |"
  fi
  if v=$(node -p 'require("./tests/clients/node_modules/@platformatic/kafka/package.json").version' 2>/dev/null); then
    echo "| \`platformatic-kafka__\` | @platformatic/kafka $v (npm, tests/clients/package-lock.json), Node $(node --version) |"
  fi
}

{
  cat <<'MD'
# Request frames captured from real Kafka clients

Each `<client>__<Api>__v<version>.bin` is one request frame exactly as a real client sent it: the bytes
after the 4-byte size prefix, i.e. the request header (v1, or v2 for flexible versions) followed by the
request body. They are test fixtures for the request decoders; the client ids in them are the clients'
own.

Generated by `tests/tools/capture_all.sh` (do not edit by hand): it runs the fake broker
`tests/tools/capture_broker.py` on 127.0.0.1 and drives each client through a producer (one record to
topic `capture`, partition 0) and a consumer (kcat and kafka-python: assign + seek; confluent-kafka:
assign from the beginning with a group id; kafkajs and @platformatic/kafka: a consumer group). The
broker advertises several version profiles (`high`: every version it can answer; `flex`: the oldest
flexible versions; `mid`, `low`: lower maxima, `low` down to Produce v3 / Fetch v4 / ApiVersions v0), so
that a client sends more than one version of an API; the first run that sees an (api, version) keeps
it. Every file is checked by `tests/tools/capture_broker.py --check`: the header's api key and version
match the name, the body decodes with no bytes left over, and Produce record batches have a valid
CRC-32C.

Regenerate (needs kcat, python3-confluent-kafka, python3-kafka, node and npm; `scripts/deps.sh`):

    tests/tools/capture_all.sh
    CLIENTS="kafkajs" tests/tools/capture_all.sh     # one client: replaces only its files

Captures differ from run to run in timestamps and similar fields, so regenerate only on purpose.

## Clients

| File prefix | Client |
|---|---|
MD
  client_versions
  cat <<'MD'

librdkafka (kcat, confluent-kafka) first sends ApiVersions v3 and, on UNSUPPORTED_VERSION, retries
with v0. kafka-python first probes with ApiVersions v0 and Metadata v0, then picks versions from the
broker version it infers. kafkajs steps ApiVersions down from v2. @platformatic/kafka speaks only
flexible versions (Kafka 3.5+); its Fetch v13+ names topics by topic id (the broker's fixed id).

## Files

MD
  "$py" "$broker_script" --list "$out"
} >"$out/README.md"

echo "capture_all: checking the captures"
"$py" "$broker_script" --check "$out" || exit 1
if [ "$failures" -ne 0 ]; then
  echo "capture_all: $failures client step(s) failed; their captures may be missing" >&2
  exit 1
fi
