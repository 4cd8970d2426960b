/**
 * Benchmark processes. Each scenario runs in a fresh Node process, and so does each thing a
 * scenario measures as a service (processor, sink, raw consumer, background agents): a
 * separate process has its own CPU time, heap, JIT and resident memory, as it would in
 * production, and no scenario inherits another's garbage. chDB also binds one data folder per
 * process, so a sink and a raw insert cannot share one.
 *
 * Protocol over the IPC channel (plain JSON):
 *   parent -> child  { type: 'start', input }   { type: 'stop' }   { type: 'tell', data }
 *   child -> parent  { type: 'progress', line } { type: 'ready', data } { type: 'result', data } { type: 'error', message }
 * A child whose parent disappears exits on 'disconnect', so an interrupted bench leaves no
 * Node processes behind (and the broker's watchdog takes care of the JVM).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS } from '../../services/node-flags.js';
import { jsPathOf } from './js-tree.js';

type FromChild = { type: 'progress'; line: string } | { type: 'ready'; data: unknown } | { type: 'result'; data: unknown } | { type: 'error'; message: string };
type ToChild = { type: 'start'; input: unknown } | { type: 'stop' } | { type: 'tell'; data: unknown };

export interface WorkerHandle<R> {
  readonly pid: number;
  /** The data of the child's `ready`: it is set up and, for services, running. */
  readonly ready: Promise<unknown>;
  /** The child's result; rejects on its error, its exit without a result, or the timeout. */
  readonly result: Promise<R>;
  /** Asks a long-running child (a live processor, background agents) to finish and report. */
  stop(): void;
  /** Hands a running child new instructions (a new offered rate), read by its `onTell`. */
  tell(data: unknown): void;
  kill(): void;
}

export interface WorkerOptions {
  label: string;
  progress: (line: string) => void;
  timeoutMs: number;
}

/** Workers that stand for services (processor, sink, and the raw consumers they are compared with; the query API) run with the services' V8 flags. */
const SERVICE_WORKERS = new Set(['workers/drain.ts', 'workers/graph-api.ts']);

const live = new Set<ChildProcess>();

/**
 * `file` is relative to bench/, e.g. `workers/drain.ts`. It runs from the bench's JavaScript tree
 * when bench/run.ts built one (BENCH_JS_TREE, ./js-tree.ts), and from the TypeScript sources
 * through tsx otherwise (and with --profile, so that profiles name the sources).
 */
export function startWorker<R>(file: string, input: unknown, options: WorkerOptions): WorkerHandle<R> {
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const jsTree = profileDir ? undefined : process.env.BENCH_JS_TREE;
  const path = jsTree ? jsPathOf(jsTree, join('bench', file)) : fileURLToPath(new URL(`../${file}`, import.meta.url));
  const child = fork(path, [], {
    // tsx as a loader, not as a CLI: the child is then a plain Node process we can signal.
    // BENCH_NODE_FLAGS: extra flags for the workers (e.g. --trace-gc, which NODE_OPTIONS refuses).
    execArgv: [
      ...(jsTree ? [] : ['--import', 'tsx']), ...(SERVICE_WORKERS.has(file) ? SERVICE_NODE_FLAGS : []),
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: process.env,
  });
  live.add(child);

  let markReady: (data: unknown) => void = () => {};
  let failReady: (error: Error) => void = () => {};
  const ready = new Promise<unknown>((ok, fail) => { markReady = ok; failReady = fail; });
  const result = new Promise<R>((ok, fail) => {
    let settled = false;
    const settle = (error: Error | null, data?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        failReady(error);
        fail(error);
      } else {
        markReady(undefined);
        ok(data as R);
      }
    };
    const timer = setTimeout(() => {
      settle(new Error(`${options.label}: no result within ${Math.round(options.timeoutMs / 1000)} s`));
      child.kill('SIGKILL');
    }, options.timeoutMs);
    // A result counts once the child has exited: it may still be closing connections or
    // writing a CPU profile, and the bench must not move on (or kill it) before that.
    let delivered: { data: unknown } | null = null;
    child.on('message', (message: FromChild) => {
      if (message.type === 'progress') options.progress(`${options.label}: ${message.line}`);
      else if (message.type === 'ready') markReady(message.data);
      else if (message.type === 'result') {
        delivered = { data: message.data };
        markReady(undefined);
        setTimeout(() => child.kill('SIGKILL'), 30_000).unref(); // an exit that never comes
      } else if (message.type === 'error') settle(new Error(`${options.label}: ${message.message}`));
    });
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (delivered) settle(null, delivered.data);
      else settle(new Error(`${options.label}: exited (${signal ?? `code ${code}`}) without a result`));
    });
  });
  // Either may be awaited late (or, for `ready`, never): a failure must not count as unhandled
  // in the meantime. Awaiting them later still throws.
  ready.catch(() => {});
  result.catch(() => {});
  child.send({ type: 'start', input } satisfies ToChild);

  return {
    pid: child.pid ?? -1,
    ready,
    result,
    stop: () => { if (child.connected) child.send({ type: 'stop' } satisfies ToChild); },
    tell: (data) => { if (child.connected) child.send({ type: 'tell', data } satisfies ToChild); },
    kill: () => { child.kill('SIGKILL'); },
  };
}

/** Kills every worker this process started and that is still alive (Ctrl-C, a failed scenario). */
export function killAllWorkers(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}
