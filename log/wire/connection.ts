/**
 * One TCP connection to one Kafka broker: size-prefixed frames out, responses matched to their
 * requests by correlation id. Requests may be pipelined: a broker answers a connection's
 * requests in the order it received them, so batches sent on one connection land in order.
 * A request not answered within its timeout, or a socket that errors or closes, fails every
 * request in flight with a KafkaConnectionError, and the connection is dead: the producer
 * opens a new one for the next request.
 */
import { connect, type Socket } from 'node:net';
import { requestHeader } from './protocol.js';

export class KafkaConnectionError extends Error {
  override name = 'KafkaConnectionError';
  /** true when the request may have reached the broker (its write status is unknown). */
  constructor(message: string, readonly mayHaveWritten: boolean) {
    super(message);
  }
}

interface Pending {
  resolve(body: Buffer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class BrokerConnection {
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelation = 0;
  /** Received bytes not yet a whole frame. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: Error | null = null;
  readonly ready: Promise<void>;

  constructor(readonly host: string, readonly port: number, private readonly clientId: string, private readonly requestTimeoutMs: number, connectTimeoutMs: number) {
    this.socket = connect({ host, port });
    this.socket.setNoDelay(true);
    this.ready = new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => this.fail(new KafkaConnectionError(`connecting to ${host}:${port} timed out after ${connectTimeoutMs} ms`, false)), connectTimeoutMs);
      this.socket.once('connect', () => { clearTimeout(timer); ok(); });
      this.socket.once('close', () => { clearTimeout(timer); fail(this.failure ?? new KafkaConnectionError(`connection to ${host}:${port} closed`, false)); });
    });
    this.ready.catch(() => {}); // observed by request()
    this.socket.on('data', (data) => this.receive(data));
    this.socket.on('error', (error) => this.fail(new KafkaConnectionError(`connection to ${host}:${port}: ${error.message}`, true)));
    this.socket.on('close', () => this.fail(new KafkaConnectionError(`connection to ${host}:${port} closed by the broker`, true)));
  }

  get alive(): boolean {
    return this.failure === null;
  }

  /** Sends a request (body given as pieces, written without copying) and resolves with the response body. */
  async request(apiKey: number, apiVersion: number, body: Buffer[]): Promise<Buffer> {
    try {
      await this.ready;
    } catch (error) {
      throw new KafkaConnectionError((error as Error).message, false); // never connected: nothing was sent
    }
    if (this.failure) throw this.failure;
    const correlationId = this.nextCorrelation;
    this.nextCorrelation = (this.nextCorrelation + 1) | 0;
    let bodyBytes = 0;
    for (const piece of body) bodyBytes += piece.length;
    const answered = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new KafkaConnectionError(`${this.host}:${this.port} did not answer within ${this.requestTimeoutMs} ms`, true)), this.requestTimeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    this.socket.cork();
    this.socket.write(requestHeader(apiKey, apiVersion, correlationId, this.clientId, bodyBytes));
    for (const piece of body) this.socket.write(piece);
    this.socket.uncork();
    return answered;
  }

  close(): void {
    this.fail(new KafkaConnectionError(`connection to ${this.host}:${this.port} closed`, true));
  }

  private receive(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    while (this.buffered >= 4) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.merge();
      const size = head.readInt32BE(0);
      if (this.buffered < 4 + size) return;
      const whole = this.chunks.length === 1 ? this.chunks[0]! : this.merge();
      const frame = whole.subarray(4, 4 + size);
      const rest = whole.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.answer(frame);
    }
  }

  private merge(): Buffer {
    const merged = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [merged];
    return merged;
  }

  private answer(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.pending.get(correlationId);
    if (!pending) {
      this.fail(new KafkaConnectionError(`${this.host}:${this.port} answered unknown correlation id ${correlationId}`, true));
      return;
    }
    this.pending.delete(correlationId);
    clearTimeout(pending.timer);
    pending.resolve(frame.subarray(4));
  }

  private fail(error: KafkaConnectionError): void {
    if (!this.failure) this.failure = error;
    for (const [, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(this.failure);
    }
    this.pending.clear();
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
