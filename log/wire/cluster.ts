/**
 * What a wire client knows of the cluster: its brokers' addresses, one connection per broker
 * (opened on first use, replaced once dead), and each topic's partition leaders, asked of any
 * broker that answers and cached until a caller says they went stale. The producer and the
 * fetcher each have their own: a fetch waits at the broker up to its max wait, and a broker
 * answers a connection's requests one after another, so sends must not queue behind it.
 */
import { BrokerConnection } from './connection.js';
import { API_METADATA, type BrokerAddress, decodeMetadata, describeError, type Metadata, metadataRequestBody, type TopicMetadata } from './protocol.js';

export interface ClusterOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId: string;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /** The error to throw when metadata cannot be had (the producer's and the fetcher's own classes). */
  error(message: string, retriable: boolean): Error;
}

export type Cluster = ReturnType<typeof createCluster>;

export function createCluster(options: ClusterOptions) {
  const bootstrap = options.brokers.map(parseAddress);
  const addresses = new Map<number, BrokerAddress>();
  const connections = new Map<string, BrokerConnection>();
  const topics = new Map<string, TopicMetadata>();
  const refreshing = new Map<string, Promise<TopicMetadata>>();

  /** `lane` names a second connection to the same broker (requests on one connection are answered in turn). */
  function connection(host: string, port: number, lane = ''): BrokerConnection {
    const key = `${host}:${port}${lane ? `#${lane}` : ''}`;
    let existing = connections.get(key);
    if (!existing || !existing.alive) {
      existing = new BrokerConnection(host, port, options.clientId, options.requestTimeoutMs, options.connectTimeoutMs);
      connections.set(key, existing);
    }
    return existing;
  }

  /** `call` on the first broker that answers: the known ones first, then the bootstrap list. */
  async function anyBroker<T>(call: (connection: BrokerConnection) => Promise<T>): Promise<{ answer: T; from: string }> {
    let lastError: Error | null = null;
    for (const { host, port } of [...addresses.values(), ...bootstrap]) {
      try {
        return { answer: await call(connection(host, port)), from: `${host}:${port}` };
      } catch (error) {
        lastError = error as Error;
      }
    }
    throw options.error(`no broker of ${options.brokers.join(',')} answered: ${lastError?.message}`, true);
  }

  /** Metadata from any broker; it also tells the addresses of all of them. */
  async function askAnyBroker(topicNames: string[]): Promise<{ metadata: Metadata; from: string }> {
    const { answer: metadata, from } = await anyBroker(async (c) => decodeMetadata(await c.request(API_METADATA, 4, [metadataRequestBody(topicNames)])));
    for (const broker of metadata.brokers) addresses.set(broker.nodeId, broker);
    return { metadata, from };
  }

  async function fetchMetadata(topic: string): Promise<TopicMetadata> {
    const { metadata, from } = await askAnyBroker([topic]);
    const found = metadata.topics.find((t) => t.name === topic);
    if (!found) throw options.error(`broker ${from} returned no metadata for topic '${topic}'`, true);
    if (found.errorCode !== 0) {
      const { name } = describeError(found.errorCode);
      throw options.error(`topic '${topic}': ${name}${found.errorCode === 3 ? ' (create it with ensureTopics first)' : ''}`, true);
    }
    topics.set(topic, found);
    return found;
  }

  return {
    askAnyBroker,
    anyBroker,
    /** The connection to `host:port` (a coordinator's address, as FindCoordinator tells it). */
    connection,
    /** The topic's leaders, cached; concurrent callers share one request. */
    metadataOf(topic: string): Promise<TopicMetadata> {
      const known = topics.get(topic);
      if (known) return Promise.resolve(known);
      let pending = refreshing.get(topic);
      if (!pending) {
        pending = fetchMetadata(topic).finally(() => refreshing.delete(topic));
        refreshing.set(topic, pending);
      }
      return pending;
    },
    /** The leaders of `topic` may have moved: ask again on next use. */
    forget(topic: string): void {
      topics.delete(topic);
    },
    /** The connection to broker `nodeId` (on `lane`, if named), or null if it is not among the known brokers. */
    connectionTo(nodeId: number, lane = ''): BrokerConnection | null {
      const address = addresses.get(nodeId);
      return address ? connection(address.host, address.port, lane) : null;
    },
    close(): void {
      for (const open of connections.values()) open.close();
      connections.clear();
    },
  };
}

export function parseAddress(broker: string): BrokerAddress {
  const at = broker.lastIndexOf(':');
  const port = Number(broker.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0) throw new RangeError(`broker address '${broker}' is not host:port`);
  return { nodeId: -1, host: broker.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port };
}
