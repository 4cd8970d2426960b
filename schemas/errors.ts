/**
 * Every way a payload can fail to become an event. Callers branch on `code`, never on
 * `message`; none of these is retriable: the same bytes fail the same way, so they belong in
 * the dead-letter topic with their reason.
 */
export type SchemaErrorCode =
  | 'NOT_SINGLE_OBJECT' // no C3 01 marker: not Avro single-object encoding at all
  | 'UNKNOWN_FINGERPRINT' // a schema this build has never seen (a newer producer? register it)
  | 'MALFORMED_PAYLOAD' // the header is right but the body does not decode
  | 'INVALID_EVENT'; // a value that does not fit the schema (encode side, or zod at an edge)

export class SchemaError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: SchemaErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SchemaError';
  }
}
