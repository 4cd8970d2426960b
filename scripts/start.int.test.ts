/**
 * `npm start` as a newcomer runs it: embedded defaults, the demo trips, the audit prints; then
 * the query API answers from the same process with the admin key it printed, and Ctrl-C stops
 * everything cleanly.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../test/kafka.js';

describe('npm start (embedded defaults)', () => {
  it('halts the looping demo agent at the 3rd identical call, prints the audit record, and serves the query API', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fusebox-start-'));
    const env = { ...process.env, FUSEBOX_DATA_DIR: dataDir, KAFKA_BROKERS: '', CLICKHOUSE_URL: '', FUSEBOX_API_PORT: '0' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-10_000); });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await eventually(`npm start to finish the demo (stderr: ${stderr.slice(-500)})`, () => stdout.includes('Ctrl-C stops it.') || child.exitCode !== null, 60_000);
      expect(stdout).toMatch(/event log : in-memory event log/);
      expect(stdout).toMatch(/HALTED before call 4: the loop breaker tripped at the 3rd identical call/);
      expect(stdout).toMatch(/detector loop, threshold 3, observed 3, policy builtin:loop v1/);
      expect(stdout).toMatch(/steps elapsed 6, run cost \$0\.009750/);
      expect(stdout).toMatch(new RegExp(`Where the data is: chDB \\(embedded ClickHouse\\) at ${dataDir}/chdb`));
      expect(stdout).toMatch(/9 spans of run run-[0-9a-f-]+ in table spans/);

      const [, key, address, runId] = /curl -H "Authorization: Bearer (fbx_[0-9a-f]{16}_[A-Za-z0-9_-]{43})" (http:\/\/[^ ]+)\/v1\/runs\/(run-[0-9a-f-]+)/.exec(stdout) ?? [];
      expect(key).toBeDefined();
      const get = (path: string) => fetch(`${address}${path}`, { headers: { authorization: `Bearer ${key}` } });
      const run = await get(`/v1/runs/${runId}`);
      expect(run.status).toBe(200);
      expect(await run.json()).toMatchObject({ run: { runId, agentId: 'researcher', steps: 7, trips: 1 }, trips: [{ detector: 'loop', observed: 3 }] });
      expect((await get('/v1/breakers/open')).status).toBe(200);
      expect((await fetch(`${address}/v1/runs`)).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
