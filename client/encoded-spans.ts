/**
 * Spans waiting to be sent, kept as the bytes that will be sent: each span is Avro
 * single-object encoded straight into a large chunk (no Buffer, no copy per span) and known to
 * the emitter only by its sequence number, a small integer. A batch is then packed into one
 * ArrayBuffer that can be transferred to the producer thread, or read back in place as log
 * messages for an event log in this thread.
 *
 * The emitter only ever removes the oldest spans it holds (sent, or dropped past its bound),
 * so everything below the first span of a batch being sent is never needed again: `release`
 * frees whole chunks below that mark. Pure: no I/O.
 */
import { parseSchema, spanEventAvsc, spanEventCodec, type SpanEvent } from '../schemas/index.js';
import type { OutgoingMessage } from '../log/port.js';
import { NOT_PLAIN, NO_ROOM, writeSpanBody, writesSchema } from './span-writer.js';

/** Bytes of a fresh chunk; a span larger than this gets a chunk of its own size. */
const CHUNK_BYTES = 256 * 1024;
const { type: spanType, fingerprint } = parseSchema(spanEventAvsc);
/** C3 01 and the schema's fingerprint: the single-object header, as schemas/codec.ts writes it. */
const HEADER = Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprint]);
/** The hand-written writer (span-writer.ts) only for the schema it was written for. */
const HAND_WRITTEN = writesSchema(fingerprint.toString('hex'));

interface Chunk {
  readonly bytes: Buffer;
  /** Sequence number of the chunk's first span. */
  readonly firstSeq: number;
  /** End offset of each span in `bytes`; a span starts where the previous one ended. */
  readonly ends: number[];
  readonly partitions: number[];
  readonly keys: string[];
  used: number;
}

/** A batch as it crosses to the producer thread: one transferable buffer and the distinct keys. */
export interface PackedBatch {
  /** u32 count, then per span (u32 partition, u32 key index, u32 length), then the values back to back. */
  readonly buffer: ArrayBuffer;
  readonly keys: string[];
}

export function createEncodedSpans() {
  const chunks: Chunk[] = [];
  let nextSeq = 0;

  function newChunk(minBytes: number): Chunk {
    const chunk: Chunk = { bytes: Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, minBytes)), firstSeq: nextSeq, ends: [], partitions: [], keys: [], used: 0 };
    chunks.push(chunk);
    return chunk;
  }

  /** The chunk and index of a span still held; throws for a released or unknown one (a bug). */
  function locate(seq: number): [Chunk, number] {
    for (let c = chunks.length - 1; c >= 0; c--) {
      const chunk = chunks[c]!;
      if (seq >= chunk.firstSeq) {
        const index = seq - chunk.firstSeq;
        if (index >= chunk.ends.length) break;
        return [chunk, index];
      }
    }
    throw new RangeError(`span ${seq} is not held (released, or never added)`);
  }

  const startOf = (chunk: Chunk, index: number) => (index === 0 ? 0 : chunk.ends[index - 1]!);

  return {
    /**
     * Encodes a span at the end of the current chunk and returns its sequence number. A span
     * the schema refuses throws the codec's own SchemaError and leaves nothing behind.
     */
    add(span: SpanEvent, key: string, partition: number): number {
      let chunk = chunks[chunks.length - 1] ?? newChunk(0);
      let end = encodeAt(span, chunk.bytes, chunk.used);
      if (end < 0) {
        // Did not fit: a new chunk, big enough for this span if it is a giant.
        chunk = newChunk(chunk.bytes.length - chunk.used - end + HEADER.length);
        end = encodeAt(span, chunk.bytes, 0);
        if (end < 0) throw new Error(`SpanEvent: ${-end} bytes short in a chunk sized for it`); // a bug, never the agent's
      }
      chunk.ends.push(end);
      chunk.partitions.push(partition);
      chunk.keys.push(key);
      chunk.used = end;
      return nextSeq++;
    },

    /** Frees every chunk whose spans are all below `seq`: the emitter never asks for them again. */
    release(seq: number): void {
      let drop = 0;
      while (drop < chunks.length - 1 && chunks[drop]!.firstSeq + chunks[drop]!.ends.length <= seq) drop++;
      // The last chunk is being written into; it is reused rather than freed.
      if (drop > 0) chunks.splice(0, drop);
    },

    /** Chunks held, for tests of the release. */
    get chunkCount(): number {
      return chunks.length;
    },

    /** The batch's spans copied into one buffer that can be transferred (runs of neighbours copied at once). */
    pack(batch: readonly number[]): PackedBatch {
      let valueBytes = 0;
      for (const seq of batch) {
        const [chunk, index] = locate(seq);
        valueBytes += chunk.ends[index]! - startOf(chunk, index);
      }
      const headerBytes = 4 + 12 * batch.length;
      const buffer = new ArrayBuffer(headerBytes + valueBytes);
      const header = new Uint32Array(buffer, 0, 1 + 3 * batch.length);
      const values = new Uint8Array(buffer);
      const keyIndex = new Map<string, number>();
      const keys: string[] = [];
      header[0] = batch.length;
      let at = headerBytes;
      let i = 0;
      while (i < batch.length) {
        const [chunk, first] = locate(batch[i]!);
        // Extend over the following spans that sit right after this one in the same chunk.
        let run = 1;
        while (i + run < batch.length && batch[i + run] === batch[i]! + run && first + run < chunk.ends.length) run++;
        const last = first + run - 1;
        const from = startOf(chunk, first);
        const to = chunk.ends[last]!;
        values.set(chunk.bytes.subarray(from, to), at);
        at += to - from;
        for (let index = first; index <= last; index++, i++) {
          const key = chunk.keys[index]!;
          let k = keyIndex.get(key);
          if (k === undefined) {
            k = keys.length;
            keys.push(key);
            keyIndex.set(key, k);
          }
          header[1 + 3 * i] = chunk.partitions[index]!;
          header[2 + 3 * i] = k;
          header[3 + 3 * i] = chunk.ends[index]! - startOf(chunk, index);
        }
      }
      return { buffer, keys };
    },

    /** The batch's spans as log messages whose values are views of the chunks (no copy). */
    messages(batch: readonly number[]): OutgoingMessage[] {
      return batch.map((seq) => {
        const [chunk, index] = locate(seq);
        const from = startOf(chunk, index);
        return { key: chunk.keys[index]!, partition: chunk.partitions[index]!, value: chunk.bytes.subarray(from, chunk.ends[index]) };
      });
    },
  };
}

export type EncodedSpans = ReturnType<typeof createEncodedSpans>;

/** A packed batch read back as log messages; values are views of the transferred buffer. */
export function unpack(batch: PackedBatch): OutgoingMessage[] {
  const header = new Uint32Array(batch.buffer, 0, 1);
  const count = header[0]!;
  const fields = new Uint32Array(batch.buffer, 0, 1 + 3 * count);
  const messages: OutgoingMessage[] = new Array(count);
  let at = 4 + 12 * count;
  for (let i = 0; i < count; i++) {
    const length = fields[3 + 3 * i]!;
    messages[i] = { key: batch.keys[fields[2 + 3 * i]!]!, partition: fields[1 + 3 * i]!, value: Buffer.from(batch.buffer, at, length) };
    at += length;
  }
  return messages;
}

/**
 * Writes header and body at `offset`; the end offset, or minus the bytes missing when it does
 * not fit. The plain case by hand (span-writer.ts), the rest by avsc; a value the schema
 * refuses is handed to the codec, whose error names the field.
 */
function encodeAt(span: SpanEvent, bytes: Buffer, offset: number): number {
  if (bytes.length - offset < HEADER.length) return -HEADER.length;
  HEADER.copy(bytes, offset);
  if (HAND_WRITTEN) {
    const end = writeSpanBody(span, bytes, offset + HEADER.length);
    if (end >= 0) return end;
    if (end !== NOT_PLAIN && end !== NO_ROOM) throw new Error(`span-writer answered ${end}`);
  }
  try {
    return spanType.encode(span, bytes, offset + HEADER.length);
  } catch {
    spanEventCodec.encode(span); // throws SchemaError INVALID_EVENT with the reason
    throw new Error('SpanEvent: value does not fit the schema');
  }
}
