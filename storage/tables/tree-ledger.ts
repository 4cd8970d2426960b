/**
 * A spawn tree's ledger from the spans table: exact usage (FINAL: a redelivered span counts
 * once), its root run (whose agent and tags select the tree's budget policy), and the newest
 * span stored, which says how current the ledger is. One primary-key range read.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { TAGS_ATTRIBUTE } from '../../streams/engine.js';
import { USAGE_AGGREGATES, usageRow } from './usage.js';

const treeLedgerRow = usageRow.extend({
  root_run_id: z.string(),
  root_agent_id: z.string(),
  root_tags: z.string(),
  as_of_ms: z.coerce.number().int().nonnegative(),
});
export type TreeLedgerRow = z.output<typeof treeLedgerRow>;

/** The tree's ledger, or null when none of its spans is stored. */
export async function treeLedger(client: ClickHouseClient, tenantId: string, treeId: string): Promise<TreeLedgerRow | null> {
  const result = await client.query({
    // The root is the earliest run without a parent; (parent_run_id IS NOT NULL, start_time)
    // puts root spans first and falls back to the earliest run when the root's spans are missing.
    query: `SELECT ${USAGE_AGGREGATES},
                   argMin(run_id, (parent_run_id IS NOT NULL, start_time)) AS root_run_id,
                   argMin(agent_id, (parent_run_id IS NOT NULL, start_time)) AS root_agent_id,
                   argMin(attributes[{tagsKey:String}], (parent_run_id IS NOT NULL, start_time)) AS root_tags,
                   toUnixTimestamp64Milli(max(end_time)) AS as_of_ms
            FROM spans FINAL
            WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String}
            HAVING spans > 0`,
    query_params: { tenantId, treeId, tagsKey: TAGS_ATTRIBUTE },
    format: 'JSONEachRow',
  });
  return z.array(treeLedgerRow).parse(await result.json())[0] ?? null;
}
