// Usage: node platformatic_fetch_sessions.mjs BOOTSTRAP NODE_MODULES TOPIC sessions|logdirs
// Creates TOPIC (2 partitions) and produces 3 records to partition 0, then
//   sessions: drives an incremental fetch session (KIP-227) with @platformatic/kafka's own Fetch v17 codec (its
//             consumer always sends session 0 / epoch 0 and ignores the session it gets, so the session is driven
//             here through its low-level API);
//   logdirs:  also produces 2 records to partition 1 and describes the broker's log dirs with
//             Admin.describeLogDirs.
// Prints one JSON line with every step.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [bootstrap, nodeModules, topic, mode] = process.argv.slice(2);
const entry = path.join(nodeModules, '@platformatic', 'kafka', 'dist', 'index.js');
const { Admin, Producer, Connection, fetchV17 } = await import(pathToFileURL(entry).href);

const guard = setTimeout(() => {
  console.error('platformatic fetch sessions script: timed out');
  process.exit(3);
}, 45000);
guard.unref();

const [host, portText] = bootstrap.split(':');
const port = Number(portText);
const options = { clientId: 'floe-e2e-fetch-sessions', bootstrapBrokers: [bootstrap], timeout: 10000, retries: 2 };
const admin = new Admin(options);
const producer = new Producer(options);
const conn = new Connection('floe-e2e-fetch-sessions');
const out = {};

function part(partition, offset) {
  return { partition, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 };
}

// What a fetch answered: the session, and per partition its offsets and record values.
function summary(resp) {
  return {
    errorCode: resp.errorCode,
    sessionId: resp.sessionId,
    partitions: resp.responses.flatMap(t => t.partitions.map(p => ({
      partition: p.partitionIndex,
      errorCode: p.errorCode,
      highWatermark: Number(p.highWatermark),
      values: (p.records ?? []).flatMap(b => b.records.map(r => [Number(b.firstOffset) + r.offsetDelta, r.value.toString()])),
    }))),
  };
}

async function fetch(sessionId, epoch, topics, forgotten = []) {
  try {
    return summary(await fetchV17.api.async(conn, 0, 1, 1 << 20, 0, sessionId, epoch, topics, forgotten, ''));
  } catch (e) {
    const codes = (e.errors ?? []).map(x => x.apiId);
    return { error: codes.length ? codes : [String(e)] };
  }
}

async function produce(partition, values) {
  await producer.send({ messages: values.map(v => ({ topic, partition, value: Buffer.from(v) })) });
}

try {
  const created = await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
  const topicId = created[0].id;
  await produce(0, ['a0', 'a1', 'a2']);
  if (mode === 'sessions') await sessions(topicId);
  else await logDirs();
} catch (e) {
  out.failure = String(e) + (e.errors ? ' ' + JSON.stringify(e.errors.map(x => x.message)) : '');
} finally {
  conn.close?.(() => {});
  await producer.close().catch(() => {});
  await admin.close().catch(() => {});
}
console.log(JSON.stringify(out));
process.exit(0);

async function sessions(topicId) {
  await conn.connect(host, port);

  out.full = await fetch(0, 0, [{ topicId, partitions: [part(0, 0), part(1, 0)] }]);
  const id = out.full.sessionId;
  out.unchanged = await fetch(id, 1, [{ topicId, partitions: [part(0, 3)] }]);
  await produce(1, ['b0', 'b1']);
  out.newData = await fetch(id, 2, []);
  out.replayedEpoch = await fetch(id, 2, []);
  out.forgetAll = await fetch(id, 3, [], [{ topic: topicId, partitions: [0, 1] }]);
  out.afterClose = await fetch(id, 4, []);
}

async function logDirs() {
  await produce(1, ['b0', 'b1']);
  const dirs = await admin.describeLogDirs({ topics: [{ name: topic, partitions: [0, 1] }] });
  out.logDirs = dirs.map(d => ({
    broker: d.broker,
    results: d.results.map(r => ({
      logDir: r.logDir,
      totalBytes: Number(r.totalBytes),
      usableBytes: Number(r.usableBytes),
      topics: r.topics.map(t => ({
        name: t.name,
        partitions: t.partitions.map(p => ({
          partition: p.partitionIndex,
          size: Number(p.partitionSize),
          offsetLag: Number(p.offsetLag),
          isFuture: p.isFutureKey,
        })),
      })),
    })),
  }));
}
