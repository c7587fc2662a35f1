// Usage: node platformatic_metadata.mjs BOOTSTRAP NODE_MODULES
// Prints one JSON line with @platformatic/kafka Admin.metadata() for all topics, and the error for an unknown topic.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [bootstrap, nodeModules] = process.argv.slice(2);
// An ES module ignores NODE_PATH: import the package's entry point by file URL.
const entry = path.join(nodeModules, '@platformatic', 'kafka', 'dist', 'index.js');
const { Admin } = await import(pathToFileURL(entry).href);

const guard = setTimeout(() => {
  console.error('platformatic script: timed out');
  process.exit(3);
}, 45000);
guard.unref();

function plain(md) {
  return {
    id: md.id,
    controllerId: md.controllerId,
    brokers: [...md.brokers.entries()].map(([id, b]) => ({ id, host: b.host, port: b.port, rack: b.rack })),
    topics: [...md.topics.keys()],
  };
}

const admin = new Admin({
  clientId: 'floe-e2e-platformatic',
  bootstrapBrokers: [bootstrap],
  timeout: 10000,
  retries: 2,
  retryDelay: 100,
});
let code = 0;
try {
  const all = await admin.metadata({});
  let unknown = null;
  try {
    await admin.metadata({ topics: ['no-such-topic'], autocreateTopics: false });
  } catch (e) {
    const inner = (e.errors || []).map((x) => x.apiCode ?? x.code ?? String(x.message)).flat();
    unknown = { name: e.name, code: e.code ?? null, message: String(e.message), inner };
  }
  console.log(JSON.stringify({ metadata: plain(all), unknown }));
} catch (err) {
  console.error('platformatic script failed:', err && err.stack ? err.stack : err);
  if (err && err.errors) console.error(err.errors);
  code = 1;
} finally {
  await admin.close();
}
process.exit(code);
