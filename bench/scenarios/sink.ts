/**
 * Sink: how fast `createSink` moves a backlog of spans from Kafka into ClickHouse (chDB), next to
 * how fast chDB takes the same rows from `insertSpans` directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partitionForKey } from '../../log/partitioner.js';
import { spanEventCodec } from '../../schemas/index.js';
import { openStore, type Store } from '../../storage/store.js';
import { insertSpans, toSpanRow, type SpanRow } from '../../storage/tables/spans.js';
import { startWorker } from '../lib/child.js';
import { deleteTopics, freshTopics, PRELOAD, produceRaw } from '../lib/kafka.js';
import { figure, type Figure } from '../lib/results.js';
import { perSecond } from '../lib/stats.js';
import { buildWorkload, type EncodedSpan } from '../lib/workload.js';
import type { DrainInput, DrainResult } from '../workers/drain.js';
import { sized, type BenchContext, type ScenarioOutput } from './scenario.js';

const PARTITIONS = 6;
const DIRECT_BATCHES = [1_000, 10_000, 50_000];
/** Short mode leaves out the smallest inserts (50 of them, ~2 s). */
const SHORT_DIRECT_BATCHES = [10_000, 50_000];

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const count = sized(ctx, 200_000, 50_000);
  ctx.progress(`encoding ${count.toLocaleString('en-US')} realistic spans`);
  const workload = buildWorkload({ spans: count, seed: 3 });
  const sinkPath = mkdtempSync(join(tmpdir(), 'fusebox-bench-sink-'));
  const directPath = mkdtempSync(join(tmpdir(), 'fusebox-bench-insert-'));
  const bench = await freshTopics(ctx.brokers, 'sink', PARTITIONS);
  try {
    ctx.progress(`preloading ${bench.topics.spans} (${PARTITIONS} partitions)`);
    await produceRaw(ctx.brokers, bench.topics.spans, workload.messages, { partitions: PARTITIONS, ...PRELOAD });

    ctx.progress('draining with createSink into chDB, in its own process');
    const sink = await startWorker<DrainResult>('workers/drain.ts', { mode: 'sink', brokers: ctx.brokers, prefix: bench.prefix, expected: count, chdbPath: sinkPath } satisfies DrainInput, { label: 'createSink', progress: ctx.progress, timeoutMs: 240_000 }).result;
    ctx.progress(`  ${Math.round(sink.ratePerSec).toLocaleString('en-US')} rows/s`);

    ctx.progress('building the same rows in this process (decode, toSpanRow)');
    const built = buildRows(workload.messages);
    ctx.progress('inserting them with insertSpans straight into another chDB folder');
    const direct = await insertDirect(directPath, built.rows, sized(ctx, DIRECT_BATCHES, SHORT_DIRECT_BATCHES), ctx.progress, insertSpans);
    // The insert path before Native, for comparison: not in short mode (a few seconds of the 3-minute budget).
    if (!ctx.short) ctx.progress('and the same rows the way the sink inserted them before (JSONEachRow inline through @clickhouse/client)');
    const before = ctx.short ? [] : await insertDirect(directPath, built.rows, [10_000, 50_000], ctx.progress, (store, rows, token) => store.client.insert({ table: 'spans', values: [...rows], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: token } }).then(() => {}));
    const drainRate = perSecond(count, sink.activeMs);

    const figures: Figure[] = [
      { ...figure('sink drain into chDB', drainRate, 'rows/s', `1 instance, ${PARTITIONS} partitions; every row, from the first handler's start until the last row was stored; ${sink.inserts} inserts, mean ${Math.round(count / Math.max(1, sink.inserts ?? 1)).toLocaleString('en-US')} rows (Kafka batches of mean ${Math.round(sink.batchSize.mean)})`), target: '≥ 50,000 spans/s end to end: one sink must keep up', met: drainRate >= 50_000 },
      ...direct.map((d) => ({
        ...figure(`insertSpans direct, ${d.batch.toLocaleString('en-US')} rows/insert`, d.rowsPerSec, 'rows/s', `rows prebuilt; ${d.inserts} inserts, mean ${d.meanInsertMs.toFixed(1)} ms each`),
        ...(d.batch === 50_000 ? { target: '≥ 100,000 rows/s into ClickHouse (issue 4)', met: d.rowsPerSec >= 100_000 } : {}),
      })),
      ...before.map((d) => figure(`before: JSONEachRow via client.insert, ${d.batch.toLocaleString('en-US')} rows/insert`, d.rowsPerSec, 'rows/s', `the insert path up to this change, same rows, same process; mean ${d.meanInsertMs.toFixed(1)} ms each`)),
      figure('decode + toSpanRow alone', built.microsPerSpan, 'µs/span', 'in the bench process'),
      figure('sink RSS, peak', sink.rss.peakMiB, 'MiB', 'includes chDB'),
      figure('rows in ClickHouse after the drain', sink.rowsInStore ?? Number.NaN, 'count', `expected ${count.toLocaleString('en-US')}`),
    ];
    const notes: string[] = [];
    if (sink.rowsInStore !== count) notes.push(`MISMATCH: ${sink.rowsInStore} rows in ClickHouse after the drain, ${count} spans on the topic.`);
    else notes.push(`All ${count.toLocaleString('en-US')} spans were in ClickHouse after the drain.`);
    return { figures, notes };
  } finally {
    await bench.log.close();
    await deleteTopics(ctx.brokers, bench.topics);
    rmSync(sinkPath, { recursive: true, force: true });
    rmSync(directPath, { recursive: true, force: true });
  }
}

/** The rows the sink would build, with the positions a Kafka consumer would report. */
function buildRows(messages: readonly EncodedSpan[]): { rows: SpanRow[]; microsPerSpan: number } {
  const offsets = new Array<number>(PARTITIONS).fill(0);
  const started = performance.now();
  const rows = messages.map((m) => {
    const partition = partitionForKey(m.key, PARTITIONS);
    return toSpanRow(spanEventCodec.decode(m.value), { partition, offset: String(offsets[partition]!++) });
  });
  return { rows, microsPerSpan: ((performance.now() - started) * 1000) / messages.length };
}

type InsertPath = (store: Store, rows: readonly SpanRow[], token: string) => Promise<void>;

async function insertDirect(path: string, rows: SpanRow[], batches: number[], progress: (line: string) => void, insert: InsertPath) {
  const store = await openStore({ kind: 'chdb', path });
  try {
    const results = [];
    for (const batch of batches) {
      // Each size starts from an empty table, so neither pays for the other's parts merging.
      await store.client.command({ query: 'TRUNCATE TABLE spans' });
      const started = performance.now();
      let inserts = 0;
      for (let i = 0; i < rows.length; i += batch) {
        await insert(store, rows.slice(i, i + batch), `bench:direct:${batch}:${i}:${Math.random()}`);
        inserts += 1;
      }
      const elapsedMs = performance.now() - started;
      const rowsPerSec = perSecond(rows.length, elapsedMs);
      progress(`  ${batch.toLocaleString('en-US')} rows/insert: ${Math.round(rowsPerSec).toLocaleString('en-US')} rows/s`);
      results.push({ batch, rowsPerSec, inserts, meanInsertMs: elapsedMs / inserts });
    }
    return results;
  } finally {
    await store.close();
  }
}
