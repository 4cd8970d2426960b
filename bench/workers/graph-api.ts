/**
 * The query API in a process of its own, started with the services' V8 flags as the Docker
 * image runs it (services/node-flags.ts), serving the graph scenario's tree from the chDB
 * folder the scenario filled and closed (one process a folder): the causal graph as deployed.
 */
import { createMemoryLog } from '../../log/memory.js';
import { topicNames, topicSpecs } from '../../log/topics.js';
import { buildApp } from '../../services/api/app.js';
import { silentLogger } from '../../services/logger.js';
import { openStore } from '../../storage/store.js';
import { workerMain } from '../lib/worker-side.js';

export interface GraphApiInput {
  chdbPath: string;
  treeId: string;
  /** An API key of the tree's tenant, made by the scenario. */
  key: string;
  samples: number;
}

export interface GraphApiResult {
  /** ms a request, after a warm-up. */
  samples: number[];
}

workerMain<GraphApiInput, GraphApiResult>(async (input, io) => {
  const store = await openStore({ kind: 'chdb', path: input.chdbPath });
  const log = createMemoryLog();
  const topics = topicNames('bench-graph-api');
  await log.ensureTopics(topicSpecs(topics, 3));
  const app = await buildApp({ store, log, topics, logger: silentLogger });
  try {
    const get = async () => {
      const response = await app.inject({ method: 'GET', url: `/v1/trees/${input.treeId}/graph`, headers: { authorization: `Bearer ${input.key}` } });
      if (response.statusCode !== 200) throw new Error(`graph answered ${response.statusCode}: ${response.body.slice(0, 300)}`);
    };
    for (let i = 0; i < 3; i++) await get();
    io.progress(`${input.samples} requests in the API's own process`);
    const samples: number[] = [];
    for (let i = 0; i < input.samples; i++) {
      const t = performance.now();
      await get();
      samples.push(performance.now() - t);
    }
    return { samples };
  } finally {
    await app.close();
    await log.close();
    await store.close();
  }
});
