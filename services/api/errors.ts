/**
 * Every error the query API answers with, in one table: its code, HTTP status, and whether a
 * caller may retry. Handlers throw ApiError; the app's single error handler (app.ts) turns it
 * into `{ error: { code, message, field? } }` with the status from this table. Callers branch
 * on `code`, never on `message`.
 */
export const API_ERRORS = {
  INVALID_REQUEST: { status: 400, retriable: false },
  UNAUTHENTICATED: { status: 401, retriable: false },
  FORBIDDEN: { status: 403, retriable: false },
  NOT_FOUND: { status: 404, retriable: false },
  CONFLICT: { status: 409, retriable: false },
  REPORT_TOO_LARGE: { status: 422, retriable: false },
  STORE_UNAVAILABLE: { status: 503, retriable: true },
  LOG_UNAVAILABLE: { status: 503, retriable: true },
  INTERNAL: { status: 500, retriable: false },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  readonly retriable: boolean;
  /** The request field at fault (`query.from`, `body.role`), for 400s. */
  readonly field: string | undefined;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options: { field?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.status = API_ERRORS[code].status;
    this.retriable = API_ERRORS[code].retriable;
    this.field = options.field;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) } };
  }
}

export interface ErrorBody {
  error: { code: ApiErrorCode; message: string; field?: string };
}

/**
 * The one answer for "not yours" and "not there": same status, same body, so a caller cannot
 * tell another tenant's id from an unused one.
 */
export function notFound(resource: string, id: string): ApiError {
  return new ApiError('NOT_FOUND', `${resource} '${id}' not found`);
}

/**
 * Any thrown value as an ApiError: ours as they are; fastify's own (a malformed JSON body, one
 * too large) as 400s; a store that cannot be reached as a retriable 503; anything else as a 500
 * whose details stay in the server's log.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const status = (error as { statusCode?: number } | null)?.statusCode;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 413) return new ApiError('INVALID_REQUEST', 'body: larger than the limit', { field: 'body', cause: error });
  if (status !== undefined && status >= 400 && status < 500) return new ApiError('INVALID_REQUEST', `body: ${message}`, { field: 'body', cause: error });
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|socket hang up|Timeout error/i.test(message)) return new ApiError('STORE_UNAVAILABLE', 'ClickHouse did not answer; try again', { cause: error });
  return new ApiError('INTERNAL', 'internal error; it has been logged', { cause: error });
}
