/** The child's half of the protocol in child.ts: one function runs the worker's job. */
import { killAllWorkers } from './child.js';

export interface WorkerIO {
  progress(line: string): void;
  /** Tells the parent the worker is set up (and, for a service, running). */
  ready(data?: unknown): void;
  /** Resolves when the parent asks a long-running worker to finish. */
  readonly stopRequested: Promise<void>;
  /** Called with each `tell` the parent sends while the worker runs. */
  onTell(listener: (data: unknown) => void): void;
}

export function workerMain<I, R>(job: (input: I, io: WorkerIO) => Promise<R>): void {
  const send = (message: unknown) => new Promise<void>((ok) => {
    if (!process.send || !process.connected) return ok();
    process.send(message, () => ok());
  });
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((ok) => { requestStop = ok; });
  const tellListeners: Array<(data: unknown) => void> = [];
  const io: WorkerIO = {
    progress: (line) => void send({ type: 'progress', line }),
    ready: (data) => void send({ type: 'ready', data: data ?? null }),
    stopRequested,
    onTell: (listener) => { tellListeners.push(listener); },
  };

  // Orphaned (the bench was interrupted): leave nothing running.
  process.on('disconnect', () => {
    killAllWorkers();
    process.exit(1);
  });

  process.on('message', (message: { type: string; input?: unknown; data?: unknown }) => {
    if (message.type === 'stop') requestStop();
    if (message.type === 'tell') for (const listener of tellListeners) listener(message.data);
    if (message.type !== 'start') return;
    job(message.input as I, io).then(
      // Exit explicitly: kafkajs and chDB may keep handles open after a clean close, and a
      // benchmark process has nothing left to do once its result is delivered.
      async (result) => { await send({ type: 'result', data: result }); process.exit(0); },
      async (error: unknown) => {
        killAllWorkers();
        await send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
        process.exit(1);
      },
    );
  });
}
