/** Fusebox's wire contract: Avro schemas (schemas/avro), their codecs and zod mirrors. */
export { createCodec, parseSchema, type Codec } from './codec.js';
export { SchemaError, type SchemaErrorCode } from './errors.js';
export { rabinFingerprint64 } from './fingerprint.js';
export * from './span-event.js';
export * from './control-event.js';
export * from './breaker-event.js';
export * from './policy-event.js';
export * from './agent-signal.js';
export * from './tenant-spend.js';
export * from './price-override.js';
