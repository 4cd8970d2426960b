/**
 * OTLP/protobuf for traces: decode an ExportTraceServiceRequest, encode the response.
 *
 * Why protobufjs and a vendored schema: @opentelemetry/otlp-transformer (0.2xx) only *writes*
 * requests with a hand-rolled writer and reads nothing but responses, so it cannot decode what
 * an exporter sends. protobufjs is maintained, needs no code generation step, and builds its
 * decoder from `trace-service.proto` once at start. Decoding yields the same object tree as
 * OTLP/JSON (camelCase names, 64-bit integers as strings), except ids, which come as base64
 * bytes; model.ts reads both.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const source = readFileSync(new URL('./trace-service.proto', import.meta.url), 'utf8');
const root = protobuf.parse(source, { keepCase: false }).root;
const requestType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const responseType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
const statusType = root.lookupType('opentelemetry.proto.collector.trace.v1.RpcStatus');

export const PROTOBUF = 'application/x-protobuf';

export class ProtobufDecodeError extends Error {
  constructor(cause: unknown) {
    super(`not an OTLP ExportTraceServiceRequest in protobuf: ${(cause as Error).message}`, { cause });
    this.name = 'ProtobufDecodeError';
  }
}

export function decodeTraceRequest(bytes: Uint8Array): unknown {
  try {
    return requestType.toObject(requestType.decode(bytes), { longs: String, bytes: String, defaults: false, arrays: false });
  } catch (error) {
    throw new ProtobufDecodeError(error);
  }
}

/** The standard answer: empty when every span was accepted, else a partial success. */
export function encodeTraceResponse(rejectedSpans: number, errorMessage: string): Buffer {
  const body = rejectedSpans > 0 || errorMessage ? { partialSuccess: { rejectedSpans, errorMessage } } : {};
  return Buffer.from(responseType.encode(responseType.fromObject(body)).finish());
}

export function decodeTraceResponse(bytes: Uint8Array): { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } } {
  return responseType.toObject(responseType.decode(bytes), { longs: String, defaults: false });
}

/**
 * An error answer to a protobuf request: OTLP/HTTP wants a google.rpc.Status in the request's
 * encoding for every 4xx and 5xx. Its `code` is a gRPC code the spec does not use, so it is left
 * out; the message starts with the gateway's own code.
 */
export function encodeErrorStatus(message: string): Buffer {
  return Buffer.from(statusType.encode(statusType.fromObject({ message })).finish());
}

export function decodeErrorStatus(bytes: Uint8Array): { code?: number; message?: string } {
  return statusType.toObject(statusType.decode(bytes), { defaults: false });
}
