/**
 * `npm run sql -- "SELECT ..."`: one query against Fusebox's ClickHouse (chDB in .data/chdb, or
 * CLICKHOUSE_URL), printed as a table. chDB allows one process per data folder: stop
 * `npm start` (with Kafka it keeps running) before querying the embedded store.
 */
import { loadConfig } from '../services/config.js';
import { openConfiguredStore } from '../services/runtime.js';

const query = process.argv.slice(2).join(' ').trim();
if (!query) {
  console.error('usage: npm run sql -- "SELECT count() FROM spans FINAL"');
  process.exit(2);
}
const store = await openConfiguredStore(loadConfig());
try {
  const result = await store.client.query({ query, format: 'JSONEachRow' });
  const rows = await result.json<Record<string, unknown>>();
  if (rows.length === 0) console.log('(no rows)');
  else console.table(rows);
} finally {
  await store.close();
}
