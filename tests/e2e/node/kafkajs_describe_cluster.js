// Usage: node kafkajs_describe_cluster.js BOOTSTRAP NODE_MODULES
// Prints one JSON line: {cluster: admin.describeCluster(), topics: admin.fetchTopicMetadata for an unknown topic}.
'use strict';
const path = require('path');

const [bootstrap, nodeModules] = process.argv.slice(2);
const { Kafka, logLevel } = require(path.join(nodeModules, 'kafkajs'));

// Never outlive the test: a hard stop independent of the caller's timeout.
const guard = setTimeout(() => {
  console.error('kafkajs script: timed out');
  process.exit(3);
}, 45000);
guard.unref();

async function main() {
  const kafka = new Kafka({
    clientId: 'floe-e2e-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const topics = await admin.listTopics();
    let unknown = null;
    try {
      await admin.fetchTopicMetadata({ topics: ['no-such-topic'] });
    } catch (e) {
      unknown = { name: e.name, type: e.type || null, code: e.code === undefined ? null : e.code };
    }
    console.log(JSON.stringify({ cluster, topics, unknown }));
  } finally {
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('kafkajs script failed:', err && err.stack ? err.stack : err);
    process.exit(1);
  },
);
