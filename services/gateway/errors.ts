/**
 * Every error the gateway answers with, in one table: code, HTTP status, whether a caller may
 * retry. The app's one error handler (app.ts) turns any throw into
 * `{ error: { code, message, field? } }` with this status, and `Retry-After` on retriable ones.
 * Callers (the client's HTTP transport) branch on `code`, never on `message`.
 */
import { ApiError } from '../api/errors.js';

export const GATEWAY_ERRORS = {
  INVALID_REQUEST: { status: 400, retriable: false },
  UNAUTHENTICATED: { status: 401, retriable: false },
  FORBIDDEN: { status: 403, retriable: false },
  NOT_FOUND: { status: 404, retriable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retriable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retriable: false },
  RATE_LIMITED: { status: 429, retriable: true },
  INTERNAL: { status: 500, retriable: false },
  OVERLOADED: { status: 503, retriable: true },
  LOG_UNAVAILABLE: { status: 503, retriable: true },
  STORE_UNAVAILABLE: { status: 503, retriable: true },
  NOT_READY: { status: 503, retriable: true },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

export class GatewayError extends Error {
  readonly status: number;
  readonly retriable: boolean;
  readonly field: string | undefined;
  /** Seconds for `Retry-After` on retriable errors. */
  readonly retryAfterSeconds: number;

  constructor(readonly code: GatewayErrorCode, message: string, options: { field?: string; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.status = GATEWAY_ERRORS[code].status;
    this.retriable = GATEWAY_ERRORS[code].retriable;
    this.field = options.field;
    this.retryAfterSeconds = Math.max(1, Math.ceil(options.retryAfterSeconds ?? 1));
  }

  toBody() {
    return { error: { code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) } };
  }
}

/**
 * Any thrown value as a GatewayError: ours as they are; the query API's (authentication is
 * shared with it) by code; fastify's own by status (413 too large, 415 content type, other 4xx
 * a malformed body); anything else a 500 whose details stay in the log.
 */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof ApiError) {
    const code = error.code in GATEWAY_ERRORS ? (error.code as GatewayErrorCode) : 'INTERNAL';
    return new GatewayError(code, error.message, { field: error.field, cause: error });
  }
  const status = (error as { statusCode?: number } | null)?.statusCode;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 413) return new GatewayError('PAYLOAD_TOO_LARGE', `body: larger than the limit (${message})`, { field: 'body', cause: error });
  if (status === 415) return new GatewayError('UNSUPPORTED_MEDIA_TYPE', `body: ${message}; send application/json (or application/x-protobuf to /v1/traces)`, { field: 'body', cause: error });
  if (status !== undefined && status >= 400 && status < 500) return new GatewayError('INVALID_REQUEST', `body: ${message}`, { field: 'body', cause: error });
  return new GatewayError('INTERNAL', 'internal error; it has been logged', { cause: error });
}
