/** `npm start` as a newcomer runs it: embedded defaults, the demo trips, the audit prints. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('npm start (embedded defaults)', () => {
  it('halts the looping demo agent at the 3rd identical call and prints the audit record', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fusebox-start-'));
    const env = { ...process.env, FUSEBOX_DATA_DIR: dataDir, KAFKA_BROKERS: '', CLICKHOUSE_URL: '' };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env, timeout: 60_000 });
    expect(stdout).toMatch(/event log : in-memory event log/);
    expect(stdout).toMatch(/HALTED before call 4: the loop breaker tripped at the 3rd identical call/);
    expect(stdout).toMatch(/detector loop, threshold 3, observed 3, policy builtin:loop v1/);
    expect(stdout).toMatch(/steps elapsed 6, run cost \$0\.009750/);
    expect(stdout).toMatch(new RegExp(`Where the data is: chDB \\(embedded ClickHouse\\) at ${dataDir}/chdb`));
    expect(stdout).toMatch(/9 spans of run run-[0-9a-f-]+ in table spans/);
  });
});
