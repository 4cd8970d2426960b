/**
 * Gateway: spans/s accepted over HTTP (`POST /v1/spans`, JSON batches) and produced to Kafka,
 * with the gateway's full path per request: API key check (its record read from chDB once per
 * TTL), rate limit, validation of every item against the span schema, Avro encoding, produce
 * (acks=all) before the answer. Also the CPU the process spent per span accepted, which a busy
 * machine disturbs much less than the rate (the load generator's share included).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { breakerTopics } from '../../log/topics.js';
import { spanEventCodec } from '../../schemas/index.js';
import { createApiKey } from '../../services/api/auth/create-key.js';
import { buildGateway } from '../../services/gateway/app.js';
import { createControlFollower } from '../../services/gateway/control-follower.js';
import { silentLogger } from '../../services/logger.js';
import { createMetrics } from '../../services/observability/index.js';
import { openStore } from '../../storage/store.js';
import { deleteTopics, freshTopics } from '../lib/kafka.js';
import { figure } from '../lib/results.js';
import { perSecond } from '../lib/stats.js';
import { buildWorkload } from '../lib/workload.js';
import { sized, type BenchContext, type ScenarioOutput } from './scenario.js';

const PARTITIONS = 6;
const BATCH = 500;
const CONNECTIONS = 4;

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const count = sized(ctx, 200_000, 40_000);
  ctx.progress(`building ${count.toLocaleString('en-US')} realistic spans as JSON batches of ${BATCH}`);
  const bodies = jsonBatches(count);
  const storePath = mkdtempSync(join(tmpdir(), 'fusebox-bench-gateway-'));
  const bench = await freshTopics(ctx.brokers, 'gateway', PARTITIONS);
  const store = await openStore({ kind: 'chdb', path: storePath });
  const follower = createControlFollower(bench.log, breakerTopics(bench.topics), silentLogger);
  await follower.start();
  const app = await buildGateway({
    store, log: bench.log, topics: bench.topics, logger: silentLogger, follower, metrics: createMetrics('gateway', { processMetrics: false }),
    limits: { ratePerSecond: 1_000_000, maxPendingSpans: 1_000_000 },
  });
  try {
    const key = (await createApiKey(store.client, { tenantId: 'bench', role: 'agent', name: 'bench', createdBy: 'bench', nowMs: Date.now() })).key;
    const address = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const post = (body: Buffer) => postJson(agent, address, key, body);

    ctx.progress('warming up');
    await Promise.all(bodies.slice(0, CONNECTIONS).map(post));

    ctx.progress(`posting ${bodies.length} batches over ${CONNECTIONS} keep-alive connections (load generator in the same process)`);
    const latencies: number[] = [];
    let next = 0;
    let accepted = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t0 = performance.now();
        const answer = await post(body);
        latencies.push(performance.now() - t0);
        accepted += answer.accepted;
      }
    }));
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPerSpan = (cpu.user + cpu.system) / Math.max(1, accepted);
    agent.destroy();
    const rate = perSecond(accepted, elapsedMs);
    latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
    ctx.progress(`  ${Math.round(rate).toLocaleString('en-US')} spans/s, ${cpuPerSpan.toFixed(1)} µs of CPU per span`);
    return {
      figures: [
        { ...figure('gateway ingest, JSON batches', rate, 'spans/s', `${accepted.toLocaleString('en-US')} spans accepted in ${bodies.length} batches of ${BATCH}, ${CONNECTIONS} connections; the load generator shares the gateway's process and the machine's 2 cores with the broker`), target: '≥ 20,000 spans/s (issue 5)', met: rate >= 20_000 },
        figure('gateway CPU per span', cpuPerSpan, 'µs/span', 'user + system CPU of the process (gateway, its Kafka client and chDB, and the load generator) over the spans accepted'),
        figure('batch latency p50', p(0.5), 'ms', `${BATCH} spans: validate, encode, produce with acks=all, answer`),
        figure('batch latency p99', p(0.99), 'ms'),
      ],
      notes: accepted === count ? [`All ${count.toLocaleString('en-US')} spans were accepted.`] : [`MISMATCH: ${accepted} accepted of ${count}.`],
    };
  } finally {
    await app.close();
    await follower.stop();
    await store.close();
    await bench.log.close();
    await deleteTopics(ctx.brokers, bench.topics);
    rmSync(storePath, { recursive: true, force: true });
  }
}

/** The workload's spans as an agent would POST them: JSON, no tenant (it comes from the key). */
function jsonBatches(count: number): Buffer[] {
  const spans = buildWorkload({ spans: count, seed: 5 }).messages.map((m) => {
    const { tenantId: _tenant, ...span } = spanEventCodec.decode(m.value);
    return span;
  });
  const bodies: Buffer[] = [];
  for (let i = 0; i < spans.length; i += BATCH) bodies.push(Buffer.from(JSON.stringify({ spans: spans.slice(i, i + BATCH) })));
  return bodies;
}

function postJson(agent: Agent, address: URL, key: string, body: Buffer): Promise<{ accepted: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: address.hostname, port: address.port, method: 'POST', path: '/v1/spans', headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${key}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) reject(new Error(`gateway answered ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(JSON.parse(text) as { accepted: number });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
