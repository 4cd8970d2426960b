/**
 * The ClickHouse connection: chDB (ClickHouse's engine, in-process) on a local folder by
 * default, or a ClickHouse server over HTTP when a URL is configured. Same client, same SQL.
 */
import { mkdirSync } from 'node:fs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { migrate } from './migrate.js';
import { shippedPrices } from './prices/shipped.js';
import { syncShippedPrices } from './tables/model-prices.js';

export type StoreConfig =
  | { kind: 'chdb'; path: string }
  | { kind: 'server'; url: string; database?: string; username?: string; password?: string };

export interface Store {
  readonly client: ClickHouseClient;
  /** Which engine answers: bulk inserts travel differently to each (storage/insert-rows.ts). */
  readonly kind: StoreConfig['kind'];
  /** Where the data is, for people: a folder or a URL (never with a password). */
  readonly describe: string;
  close(): Promise<void>;
}

/** Both engines answer alike: 64-bit integers as JSON strings (exact past 2^53; rows parse them with zod). */
const SETTINGS = Object.freeze({ output_format_json_quote_64bit_integers: 1 as const });

/** Opens the store, applies pending migrations and syncs the shipped price list (all idempotent). */
export async function openStore(config: StoreConfig): Promise<Store> {
  let client: ClickHouseClient;
  let describe: string;
  if (config.kind === 'chdb') {
    mkdirSync(config.path, { recursive: true });
    // chdb types its Connection with @clickhouse/client-common, which @clickhouse/client now
    // bundles as its own copy: the shapes are equal, the declarations are not.
    const connection = createChdbConnection({ path: config.path }) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'];
    client = createClient({ connection, clickhouse_settings: SETTINGS });
    describe = `chDB (embedded ClickHouse) at ${config.path}`;
  } else {
    client = createClient({ url: config.url, database: config.database ?? 'default', username: config.username, password: config.password, clickhouse_settings: SETTINGS });
    const url = new URL(config.url);
    url.password = '';
    describe = `ClickHouse server at ${url.origin}/${config.database ?? 'default'}`;
  }
  await migrate(client);
  await syncShippedPrices(client, shippedPrices(), Date.now());
  return { client, kind: config.kind, describe, close: () => client.close() };
}
