// Usage: node kafkajs_group_0122.js BOOTSTRAP NODE_MODULES TOPIC GROUP PARTITIONS COUNT MORE
// For e2e 0122: kafkajs admin createTopics + listTopics; a producer (acks -1) sends COUNT messages (message i to
// partition i % PARTITIONS); a consumer group member (eachMessage, autoCommit) reads until it has COUNT messages;
// while it is a member admin.describeGroups/listGroups are taken; after it disconnects admin.fetchOffsets and
// describeGroups again. Then MORE messages are produced and a second member of the same group reads until it has
// MORE messages (plus a short quiet period to catch anything extra). Prints one JSON line with everything seen.
'use strict';
const path = require('path');

const [bootstrap, nodeModules, topic, groupId, partitionsArg, countArg, moreArg] = process.argv.slice(2);
const partitions = Number(partitionsArg);
const count = Number(countArg);
const more = Number(moreArg);
const { Kafka, logLevel } = require(path.join(nodeModules, 'kafkajs'));

const guard = setTimeout(() => {
  console.error('kafkajs script: timed out');
  process.exit(3);
}, 70000);
guard.unref();

function message(i) {
  return {
    key: `key-${i % 11}`,
    value: `kafkajs group message ${i}`,
    partition: i % partitions,
    headers: { i: String(i) },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function produce(kafka, start, n) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const messages = [];
    for (let i = start; i < start + n; i++) messages.push(message(i));
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

// Runs one group member until it has seen `want` messages, then `quietMs` more; returns what it saw.
async function consume(kafka, admin, want, quietMs, duringMembership) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const seen = [];
  await consumer.connect();
  let during = null;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      eachMessage: async ({ partition, message: m }) => {
        const headers = {};
        for (const [k, v] of Object.entries(m.headers || {})) headers[k] = v.toString();
        seen.push([partition, Number(m.offset), m.key.toString(), m.value.toString(), headers]);
      },
    });
    await waitFor(() => seen.length >= want, 40000, `${want} messages (have ${seen.length})`);
    if (quietMs) await sleep(quietMs);  // bounded observation window for stray extra messages, not a sync
    if (duringMembership) during = await duringMembership();
  } finally {
    await consumer.disconnect();  // commits what was consumed, then leaves the group
  }
  return { seen, during };
}

async function main() {
  const kafka = new Kafka({
    clientId: 'floe-e2e-0122',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const out = {};
  try {
    out.created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    out.topics = await admin.listTopics();
    await produce(kafka, 0, count);
    out.ends = (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]);

    const first = await consume(kafka, admin, count, 0, async () => ({
      described: await admin.describeGroups([groupId]),
      listed: await admin.listGroups(),
    }));
    out.first = first.seen;
    out.during = {
      groups: first.during.described.groups.map((g) => ({
        groupId: g.groupId, state: g.state, protocolType: g.protocolType, protocol: g.protocol,
        errorCode: g.errorCode, members: g.members.map((m) => ({ clientId: m.clientId })),
      })),
      listed: first.during.listed.groups,
    };
    out.offsetsAfterFirst = (await admin.fetchOffsets({ groupId, topics: [topic] }))
      .flatMap((t) => t.partitions.map((p) => [t.topic, p.partition, Number(p.offset)]));
    out.afterFirst = (await admin.describeGroups([groupId])).groups.map((g) => ({
      state: g.state, members: g.members.length,
    }));

    await produce(kafka, count, more);
    const second = await consume(kafka, admin, more, 1000, null);
    out.second = second.seen;
    out.offsetsAfterSecond = (await admin.fetchOffsets({ groupId, topics: [topic] }))
      .flatMap((t) => t.partitions.map((p) => [t.topic, p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
  console.log(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('kafkajs script failed:', err && err.stack ? err.stack : err);
    process.exit(1);
  },
);
