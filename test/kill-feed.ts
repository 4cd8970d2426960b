/**
 * The load of a kill test: items sent in chunks, a pause after each, while a stage is killed and
 * restarted. An incarnation still starting (its group join waits out the killed member's
 * session, longer on a loaded box) has only `backlog` items queued for it before the feed waits
 * for it to commit progress, so most of the log is still to come at every kill: each lands on a
 * stage with input arriving, however slow the restarts.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface KillFeedOptions<T> {
  chunk: number;
  backlog: number;
  /** Kills the test makes; after the last, the feed no longer waits. */
  kills: number;
  pauseMs: number;
  send(slice: readonly T[]): Promise<void>;
}

export function feedAcrossKills<T>(items: readonly T[], options: KillFeedOptions<T>) {
  let sent = 0;
  let killed = 0;
  let sentAtKill = 0;
  let up = false; // the current incarnation has committed progress
  const done = (async () => {
    while (sent < items.length) {
      while (killed < options.kills && !up && sent - sentAtKill >= options.backlog) await sleep(20);
      const slice = items.slice(sent, sent + options.chunk);
      await options.send(slice);
      sent += slice.length;
      await sleep(options.pauseMs);
    }
  })();
  return {
    /** Resolves once every item is sent. */
    done,
    sent: () => sent,
    /** The current incarnation has committed progress: the feed goes on past the backlog. */
    incarnationUp(): void {
      up = true;
    },
    /** The stage was just killed: its next incarnation gets at most the backlog before it is up. */
    incarnationKilled(): void {
      [killed, sentAtKill, up] = [killed + 1, sent, false];
    },
  };
}
