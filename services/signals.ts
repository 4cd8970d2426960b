import type { Logger } from './logger.js';

/** Waits for SIGINT or SIGTERM, then shuts down once; a second signal exits at once. */
export function runUntilSignal(logger: Logger, shutdown: () => Promise<void>): Promise<void> {
  return new Promise((done) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      logger.info(`${signal}: shutting down`);
      shutdown().then(done, (error: Error) => {
        logger.error('shutdown failed', { error: error.message });
        process.exit(1);
      });
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}
