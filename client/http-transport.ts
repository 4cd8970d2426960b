/**
 * The client over the HTTP gateway (services/gateway), for agents that cannot reach Kafka.
 * Same Fusebox API; what differs is only the wire:
 *
 * - spans: `POST /v1/spans` with `{ spans: [...] }` as JSON, `Authorization: Bearer fbx_...`.
 *   Items the gateway rejects (it names index and field) are reported, not retried: sending
 *   them again cannot succeed. 413 splits the batch in halves; 429 and 503 are retried after
 *   their Retry-After; 401 and 403 (a revoked key, a role that may not ingest) keep the spans
 *   and try again every 5 s rather than every 250 ms; other failures are retried by the emitter
 *   as for Kafka.
 * - trips: one Server-Sent Events stream, `GET /v1/control/stream`, for all of the tenant's
 *   trees (no `tree=` filter: a run started later needs no reconnect, so no trip can fall in
 *   a gap between streams); the board picks what concerns its runs. The gateway's comment
 *   heartbeat (every 15 s) is the contact that keeps the client from going stale.
 * - policies: `GET /v1/policies` polled every `policyPollMs` (10 s, jittered ±20%) with the
 *   last ETag, so an unchanged set is a 304 with no body; each new answer is applied to the
 *   policy book as the Kafka transport applies the policies topic (http-policies.ts). A poll
 *   the gateway answered is contact, like a heartbeat; 429 and 503 wait their Retry-After. The
 *   first answer is awaited by start, as the Kafka transport reads the whole topic first.
 * - a key the gateway does not know (401) or whose role may not do this (403) fails start at
 *   once: waiting for the connect timeout cannot change the answer.
 */
import { controlEventSchema, openBreakersSchema, type SpanEvent } from '../schemas/index.js';
import type { PolicyBook } from '../streams/policies.js';
import { jittered, syncPolicies } from './http-policies.js';
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
  /** Longest start waits for the control stream and the first policies, and startRun for the stream to be (re)connected. Default 10 s. */
  connectTimeoutMs?: number;
  /** Mean time between polls of the tenant's policies; each wait is jittered ±20%. Default 10 s. */
  policyPollMs?: number;
  /** A policy poll failed or an answer held a policy this client cannot apply; spans are not affected. */
  onPolicyTrouble?(error: Error): void;
  /** For tests of the jitter; Math.random by default. */
  random?: () => number;
}

/** How long a stream that never lists its open breakers (a gateway older than the list) waits before counting as connected. */
const UNLISTED_CONNECT_MS = 2_000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;
/** 401 / 403 on spans: nothing the client can fix, but an operator can (a new key, a role): try again slowly. */
const REFUSED_RETRY_MS = 5_000;

/** 401 or 403: the key is unknown or revoked, or its role may not do this. Retrying at once cannot help. */
class KeyRefused extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'KeyRefused';
  }
}

function refusalHint(status: number, forSpans: boolean): string {
  if (status === 401) return ' (unknown or revoked API key)';
  if (status === 403) return forSpans ? " (the key's role may not ingest spans: use an 'agent' key)" : " (the key's role may not do this: use an 'agent' key)";
  return '';
}

export function createHttpTransport(options: HttpTransportOptions): Transport<SpanEvent> {
  const base = options.url.replace(/\/+$/, '');
  const authorization = `Bearer ${options.apiKey}`;
  const stop = new AbortController();
  const random = options.random ?? Math.random;
  const pollMs = options.policyPollMs ?? 10_000;
  let connected = false;
  let waiters: Array<{ ok(): void; fail(error: Error): void }> = [];
  let lastError: Error | null = null;
  /** The stream's last answer was 401/403: waiting for it to connect is pointless until it does. */
  let refused: KeyRefused | null = null;
  let lastPollError: Error | null = null;

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
    if (response.status === 401 || response.status === 403) {
      throw new RetryLater(`POST ${base}/v1/spans answered ${response.status}${refusalHint(response.status, true)}: ${text}; the spans are kept and sent again in ${REFUSED_RETRY_MS / 1000} s`, REFUSED_RETRY_MS);
    }
    throw new Error(`POST ${base}/v1/spans answered ${response.status}: ${text}`);
  }

  /** Reads the control stream until closed, then reconnects with backoff. */
  async function followStream(events: TransportEvents): Promise<void> {
    let backoff = RECONNECT_MIN_MS;
    while (!stop.signal.aborted) {
      try {
        const response = await fetch(`${base}/v1/control/stream`, { headers: { authorization, accept: 'text/event-stream' }, signal: stop.signal });
        if (response.status !== 200 || !response.body) {
          const message = `GET ${base}/v1/control/stream answered ${response.status}${refusalHint(response.status, false)}: ${(await response.text().catch(() => '')).slice(0, 300)}`;
          throw response.status === 401 || response.status === 403 ? new KeyRefused(message, response.status) : new Error(message);
        }
        lastError = null;
        refused = null;
        backoff = RECONNECT_MIN_MS;
        events.contact();
        // Connected once the stream has said which breakers stand (its first event), so a run
        // started now is refused by them; a gateway that never says so counts after a while.
        const markConnected = () => {
          if (connected) return;
          connected = true;
          for (const waiter of waiters) waiter.ok();
          waiters = [];
        };
        const unlisted = setTimeout(markConnected, UNLISTED_CONNECT_MS);
        try {
          await readEvents(response.body, { ...events, openBreakers: (ids) => { events.openBreakers?.(ids); markConnected(); } });
        } finally {
          clearTimeout(unlisted);
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        lastError = error as Error;
        if (error instanceof KeyRefused) {
          refused = error;
          for (const waiter of waiters) waiter.fail(error);
          waiters = [];
        }
      }
      connected = false;
      await new Promise((ok) => setTimeout(ok, backoff).unref());
      backoff = Math.min(RECONNECT_MAX_MS, backoff * 2);
    }
  }

  function untilConnected(timeoutMs: number): Promise<void> {
    if (connected) return Promise.resolve();
    if (refused) return Promise.reject(refused);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter);
        fail(new Error(`the control stream at ${base}/v1/control/stream is not connected after ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`));
      }, timeoutMs);
      const waiter = {
        ok: () => { clearTimeout(timer); ok(); },
        fail: (error: Error) => { clearTimeout(timer); fail(error); },
      };
      waiters.push(waiter);
    });
  }

  /**
   * Polls the tenant's policies until closed. Resolves on the first answer (or on a gateway
   * that serves none: the defaults then apply); rejects if the key is refused before that.
   */
  function followPolicies(events: TransportEvents, book: PolicyBook): Promise<void> {
    let ids: ReadonlySet<string> = new Set();
    let etag: string | null = null;
    let loaded = false;

    /** One poll: 'changed' / 'unchanged' as answered, 'unserved' by a gateway without the route. */
    async function poll(): Promise<'changed' | 'unchanged' | 'unserved'> {
      const url = `${base}/v1/policies`;
      let response: Response;
      try {
        response = await fetch(url, {
          headers: { authorization, accept: 'application/json', ...(etag ? { 'if-none-match': etag } : {}) },
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(30_000)]),
        });
      } catch (error) {
        throw new Error(`GET ${url} failed: ${(error as Error).message}`, { cause: error });
      }
      if (response.status === 304) {
        await response.body?.cancel();
        return 'unchanged';
      }
      if (response.status === 200) {
        const sync = syncPolicies(book, ids, await response.json());
        ids = sync.ids;
        etag = response.headers.get('etag');
        if (sync.refused.length > 0) {
          options.onPolicyTrouble?.(new Error(`the gateway served policies this client cannot apply; the versions held stay in force: ${sync.refused.map((r) => `${r.policyId}: ${r.reason}`).join('; ').slice(0, 500)}`));
        }
        return 'changed';
      }
      const text = (await response.text().catch(() => '')).slice(0, 300);
      const message = `GET ${url} answered ${response.status}${refusalHint(response.status, false)}: ${text}`;
      if (response.status === 404) return 'unserved';
      if (response.status === 429 || response.status === 503) throw new RetryLater(message, retryAfterMs(response.headers.get('retry-after')));
      if (response.status === 401 || response.status === 403) throw new KeyRefused(message, response.status);
      throw new Error(message);
    }

    return new Promise<void>((resolve, reject) => {
      void (async () => {
        let failures = 0;
        while (!stop.signal.aborted) {
          let waitMs: number;
          try {
            const outcome = await poll();
            events.contact(); // the gateway answered: the control plane is reachable
            failures = 0;
            if (!loaded) {
              loaded = true;
              resolve();
            }
            if (outcome === 'unserved') {
              options.onPolicyTrouble?.(new Error(`the gateway at ${base} serves no policies (GET /v1/policies answered 404); the local pre-checks use the built-in defaults`));
              return;
            }
            waitMs = jittered(pollMs, random);
          } catch (error) {
            if (stop.signal.aborted) return;
            if (!loaded && error instanceof KeyRefused) {
              reject(error);
              return;
            }
            lastPollError = error as Error;
            options.onPolicyTrouble?.(error as Error);
            failures += 1;
            // Retry-After is a floor; before the first answer a blip should not cost a whole interval.
            waitMs = error instanceof RetryLater
              ? Math.round(error.retryAfterMs * (1 + 0.2 * random()))
              : loaded ? jittered(pollMs, random) : Math.min(pollMs, RECONNECT_MIN_MS * 2 ** Math.min(failures, 5));
          }
          await sleep(waitMs, stop.signal);
        }
      })();
    });
  }

  function withDeadline(promise: Promise<void>, timeoutMs: number, what: string): Promise<void> {
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${what} did not arrive within ${timeoutMs} ms${lastPollError ? `: ${lastPollError.message}` : ''}`)), timeoutMs);
      promise.then(() => { clearTimeout(timer); ok(); }, (error: unknown) => { clearTimeout(timer); fail(error); });
    });
  }

  return {
    describe: `the gateway at ${base}`,
    reportsContact: true,
    async start(events, policies) {
      const timeoutMs = options.connectTimeoutMs ?? 10_000;
      void followStream(events);
      await Promise.all([
        untilConnected(timeoutMs),
        withDeadline(followPolicies(events, policies), timeoutMs, `the policies from ${base}/v1/policies`),
      ]);
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

/** Waits `ms`, or less if `signal` aborts; leaves no listener behind either way. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((ok) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      ok();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
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
        else if (type === 'open-breakers' && data.length > 0) dispatchOpen(data.join('\n'), events);
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

/** The stream's list of open breakers (sent after them, at connect): `{ "eventIds": [...] }`. */
function dispatchOpen(json: string, events: TransportEvents): void {
  let parsed;
  try {
    parsed = openBreakersSchema.safeParse(JSON.parse(json));
  } catch {
    return;
  }
  if (parsed.success) events.openBreakers?.(new Set(parsed.data.eventIds));
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
