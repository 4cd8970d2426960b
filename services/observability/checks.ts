/**
 * Readiness checks: each resolves when its dependency answers and throws (with a message for
 * the operator) when it does not. The plugin bounds each by a timeout, so a check may simply
 * wait on the dependency.
 */
import { Kafka, logLevel, type Admin } from '../../log/kafkajs.js';
import type { Store } from '../../storage/store.js';

export type ReadinessCheck = () => Promise<void>;

/** The broker answers a metadata request (a cached partition count would prove nothing). */
export function kafkaCheck(brokers: readonly string[]): ReadinessCheck & { close(): Promise<void> } {
  let admin: Promise<Admin> | null = null;
  const connect = () => {
    admin ??= (async () => {
      const client = new Kafka({ brokers: [...brokers], clientId: 'fusebox-readiness', logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
      await client.connect();
      return client;
    })().catch((error: unknown) => {
      admin = null;
      throw error;
    });
    return admin;
  };
  const check = async () => {
    try {
      await (await connect()).describeCluster();
    } catch (error) {
      admin = null;
      throw new Error(`Kafka at ${brokers.join(',')} did not answer: ${(error as Error).message}`);
    }
  };
  return Object.assign(check, {
    async close() {
      const current = admin;
      admin = null;
      await (await current?.catch(() => null))?.disconnect();
    },
  });
}

/** ClickHouse (chDB or a server) runs a trivial query. */
export function storeCheck(store: Store): ReadinessCheck {
  return async () => {
    const result = await store.client.query({ query: 'SELECT 1', format: 'JSONEachRow' });
    await result.json();
  };
}
