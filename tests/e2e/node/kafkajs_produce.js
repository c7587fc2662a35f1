// Usage: node kafkajs_produce.js BOOTSTRAP NODE_MODULES TOPIC PARTITIONS COUNT
// kafkajs admin createTopics + listTopics, then a producer (acks -1) sends COUNT keyed messages with headers,
// message i to partition i % PARTITIONS, in batches. Prints one JSON line: {created, topics, acks: [[partition,
// baseOffset, count], ...]}. The Python side checks the data with confluent-kafka (kafkajs consumers need groups).
'use strict';
const path = require('path');

const [bootstrap, nodeModules, topic, partitionsArg, countArg] = process.argv.slice(2);
const partitions = Number(partitionsArg);
const count = Number(countArg);
const { Kafka, logLevel } = require(path.join(nodeModules, 'kafkajs'));

const guard = setTimeout(() => {
  console.error('kafkajs script: timed out');
  process.exit(3);
}, 45000);
guard.unref();

function message(i) {
  return {
    key: `key-${i % 13}`,
    value: `kafkajs message ${i} ` + 'x'.repeat(i % 50),
    partition: i % partitions,
    headers: { i: String(i), source: 'kafkajs' },
  };
}

async function main() {
  const kafka = new Kafka({
    clientId: 'floe-e2e-0106',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  let created;
  let topics;
  try {
    created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    topics = await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const acks = [];
  try {
    const batch = 100;
    for (let start = 0; start < count; start += batch) {
      const messages = [];
      for (let i = start; i < Math.min(count, start + batch); i++) messages.push(message(i));
      // One send per batch; kafkajs groups the messages by partition into one record batch each.
      const res = await producer.send({ topic, acks: -1, messages });
      for (const r of res) acks.push([r.partition, Number(r.baseOffset), r.errorCode]);
    }
  } finally {
    await producer.disconnect();
  }
  console.log(JSON.stringify({ created, topics, acks }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('kafkajs script failed:', err && err.stack ? err.stack : err);
    process.exit(1);
  },
);
