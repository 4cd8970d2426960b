import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../storage/store.js';

/** chDB in a fresh folder, or the ClickHouse server named by CLICKHOUSE_URL. */
export function freshStore(): Promise<Store> {
  const url = process.env.CLICKHOUSE_URL;
  if (url) return openStore({ kind: 'server', url, database: process.env.CLICKHOUSE_DATABASE });
  return openStore({ kind: 'chdb', path: mkdtempSync(join(tmpdir(), 'fusebox-chdb-')) });
}
