/** Child processes for kill tests: real entry points, killed with SIGKILL, never left behind. */
import { spawn, type ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

export function startService(entry: string, env: Record<string, string>): ChildProcess {
  // Several instances share this host: each serves its metrics on a free port unless told one.
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { ...process.env, FUSEBOX_METRICS_PORT: '0', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-20_000); });
  (child as ChildProcess & { stderrTail: () => string }).stderrTail = () => stderr;
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function kill9(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}

/**
 * SIGTERM, as a supervisor stops a service: it commits what it folded and closes, leaving no
 * transaction open for readers to wait out. SIGKILL if it has not exited within `graceMs`.
 */
export function stop(child: ChildProcess, graceMs = 20_000): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

export async function killAll(): Promise<void> {
  await Promise.all([...children].map(kill9));
}
