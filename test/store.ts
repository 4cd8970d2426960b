import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../storage/store.js';

/** Folders of the embedded stores this process made (a few MiB each, hundreds a run): removed on close, or at exit. */
const folders: string[] = [];
let cleanupRegistered = false;

function freshFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'fusebox-chdb-'));
  folders.push(folder);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.once('exit', () => {
      for (const f of folders) rmSync(f, { recursive: true, force: true });
    });
  }
  return folder;
}

/** chDB in a fresh folder, or the ClickHouse server named by CLICKHOUSE_URL. */
export function freshStore(): Promise<Store> {
  const url = process.env.CLICKHOUSE_URL;
  if (url) return openStore({ kind: 'server', url, database: process.env.CLICKHOUSE_DATABASE });
  const path = freshFolder();
  // Closing removes the folder too: vitest ends its forks without an 'exit' event.
  return openStore({ kind: 'chdb', path }).then((store) => ({
    ...store,
    async close() {
      await store.close();
      rmSync(path, { recursive: true, force: true });
    },
  }));
}
