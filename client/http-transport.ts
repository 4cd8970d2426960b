/**
 * The client over the HTTP gateway (services/gateway), for agents that cannot reach Kafka.
 * Same Fusebox API; what differs is only the wire:
 *
 * - spans: `POST /v1/spans` with `{ spans: [...] }` as JSON, `Authorization: Bearer fbx_...`.
 *   Items the gateway rejects (it names index and field) are reported, not retried: sending
 *   them again cannot succeed. 413 splits the batch in halves; 429 and 503 are retried after
 *   their Retry-After; other failures are retried by the emitter as for Kafka.
 * - trips: one Server-Sent Events stream, `GET /v1/control/stream`, for all of the tenant's
 *   trees (no `tree=` filter: a run started later needs no reconnect, so no trip can fall in
 *   a gap between streams); the board picks what concerns its runs. The gateway's comment
 *   heartbeat (every 15 s) is the contact that keeps the client from going stale.
 * - policies: the gateway serves none, so the local pre-checks use the built-in defaults
 *   (iteration cap 500); scope and custom caps are enforced by the processor.
 */
import { controlEventSchema, type SpanEvent } from '../schemas/index.js';
import { RetryLater, type Transport, type TransportEvents } from './transport.js';

export interface RejectedSpan {
  index: number;
  field: string;
  message: string;
}

export interface HttpTransportOptions {
  url: string;
  apiKey: string;
  onRejected(spans: RejectedSpan[]): void;
  /** Longest startRun waits for the control stream to be (re)connected. Default 10 s. */
  connectTimeoutMs?: number;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;

export function createHttpTransport(options: HttpTransportOptions): Transport<SpanEvent> {
  const base = options.url.replace(/\/+$/, '');
  const authorization = `Bearer ${options.apiKey}`;
  const stop = new AbortController();
  let connected = false;
  let waiters: Array<() => void> = [];
  let lastError: Error | null = null;

  async function post(batch: SpanEvent[]): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${base}/v1/spans`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ spans: batch }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new Error(`POST ${base}/v1/spans failed: ${(error as Error).message}`, { cause: error });
    }
    if (response.status === 413 && batch.length > 1) {
      await response.body?.cancel();
      const half = Math.ceil(batch.length / 2);
      await post(batch.slice(0, half));
      await post(batch.slice(half));
      return;
    }
    if (response.status === 200 || response.status === 400 || response.status === 413) {
      const rejected = response.status === 413
        ? [{ index: 0, field: 'spans.0', message: `a single span is larger than the gateway accepts (413)` }]
        : await rejectionsOf(response);
      if (rejected.length > 0) options.onRejected(rejected);
      return;
    }
    const text = (await response.text().catch(() => '')).slice(0, 300);
    if (response.status === 429 || response.status === 503) {
      throw new RetryLater(`POST ${base}/v1/spans answered ${response.status}: ${text}`, retryAfterMs(response.headers.get('retry-after')));
    }
    throw new Error(`POST ${base}/v1/spans answered ${response.status}${response.status === 401 ? ' (unknown API key)' : response.status === 403 ? " (the key's role may not ingest spans: use an 'agent' key)" : ''}: ${text}`);
  }

  /** Reads the control stream until closed, then reconnects with backoff. */
  async function followStream(events: TransportEvents): Promise<void> {
    let backoff = RECONNECT_MIN_MS;
    while (!stop.signal.aborted) {
      try {
        const response = await fetch(`${base}/v1/control/stream`, { headers: { authorization, accept: 'text/event-stream' }, signal: stop.signal });
        if (response.status !== 200 || !response.body) {
          throw new Error(`GET ${base}/v1/control/stream answered ${response.status}: ${(await response.text().catch(() => '')).slice(0, 300)}`);
        }
        connected = true;
        lastError = null;
        backoff = RECONNECT_MIN_MS;
        events.contact();
        for (const wake of waiters) wake();
        waiters = [];
        await readEvents(response.body, events);
      } catch (error) {
        if (stop.signal.aborted) return;
        lastError = error as Error;
      }
      connected = false;
      await new Promise((ok) => setTimeout(ok, backoff).unref());
      backoff = Math.min(RECONNECT_MAX_MS, backoff * 2);
    }
  }

  function untilConnected(timeoutMs: number): Promise<void> {
    if (connected) return Promise.resolve();
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== wake);
        fail(new Error(`the control stream at ${base}/v1/control/stream is not connected after ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`));
      }, timeoutMs);
      const wake = () => { clearTimeout(timer); ok(); };
      waiters.push(wake);
    });
  }

  return {
    describe: `the gateway at ${base}`,
    reportsContact: true,
    async start(events) {
      void followStream(events);
      await untilConnected(options.connectTimeoutMs ?? 10_000);
    },
    encode: (span) => span,
    send: post,
    async followTree() {
      await untilConnected(options.connectTimeoutMs ?? 10_000);
    },
    async close() {
      stop.abort();
    },
  };
}

/** Parses a Server-Sent Events body: `event:`/`data:` fields, a blank line ends an event, `:` lines are comments (heartbeats). */
async function readEvents(body: ReadableStream<Uint8Array>, events: TransportEvents): Promise<void> {
  const decoder = new TextDecoder();
  let pending = '';
  let type = 'message';
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    events.contact();
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).replace(/\r$/, '');
      pending = pending.slice(newline + 1);
      if (line === '') {
        if (type === 'control' && data.length > 0) dispatch(data.join('\n'), events);
        type = 'message';
        data = [];
      } else if (line.startsWith('event:')) {
        type = line.slice(6).trim();
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      }
    }
  }
}

function dispatch(json: string, events: TransportEvents): void {
  let parsed;
  try {
    parsed = controlEventSchema.safeParse(JSON.parse(json));
  } catch {
    return; // not JSON: nothing a client could act on
  }
  if (parsed.success) events.control(parsed.data);
}

async function rejectionsOf(response: Response): Promise<RejectedSpan[]> {
  const body = (await response.json().catch(() => null)) as { rejected?: RejectedSpan[] } | null;
  if (!Array.isArray(body?.rejected)) return response.status === 400 ? [{ index: -1, field: '(body)', message: 'the gateway rejected the batch without naming items' }] : [];
  return body.rejected;
}

function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(60_000, Math.max(100, seconds * 1000));
  const date = header ? Date.parse(header) : NaN;
  return Number.isFinite(date) ? Math.min(60_000, Math.max(100, date - Date.now())) : 1_000;
}
