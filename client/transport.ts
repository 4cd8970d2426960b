/**
 * What the client needs from the wire, whichever it is: Kafka (or the in-memory log) through
 * the event-log port, or the HTTP gateway. The Fusebox API above it is the same for both.
 */
import type { ControlEvent, ControlScope, SpanEvent } from '../schemas/index.js';
import type { PolicyBook } from '../streams/policies.js';

export interface TransportEvents {
  /** A control event of this client's tenant (trip, warn, kill, reset). */
  control(event: ControlEvent): void;
  /** Heard from the control plane just now (a heartbeat, an event): it is reachable. */
  contact(): void;
  /** A breaker of this client's tenant the services no longer hold (breaker-state tombstone). */
  released?(scope: ControlScope, target: string): void;
  /**
   * Every breaker of this client's tenant open on the control plane just now, by event id (the
   * gateway's, each time its control stream connects, after sending them as control events):
   * any other the board holds from the control plane was reset while the stream was down.
   */
  openBreakers?(eventIds: ReadonlySet<string>): void;
}

export interface Transport<T> {
  readonly describe: string;
  /** False for a transport that cannot become unreachable (the in-memory log): never stale. */
  readonly reportsContact: boolean;
  /** Connects, starts hearing control events, and fills `policies` when the transport carries them. */
  start(events: TransportEvents, policies: PolicyBook): Promise<void>;
  /** A span as the transport ships it; throws (with the reason) when it cannot be shipped. */
  encode(span: SpanEvent): T;
  /** Resolves once the transport has the batch; throws to have it retried. */
  send(batch: T[]): Promise<void>;
  /** Resolves once every control event for the tree from now on will be heard. */
  followTree(treeId: string): Promise<void>;
  close(): Promise<void>;
}

/** A send failure with the server's hint on when to try again (HTTP 429 / 503 Retry-After). */
export class RetryLater extends Error {
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
    this.name = 'RetryLater';
  }
}
