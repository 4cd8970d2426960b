/**
 * The processor's state changelog (compacted, partitioned like the spans): a spawn tree's state
 * in parts, so a transaction writes only what changed since the last one.
 *
 *   key `treeId`              the tree's own record: tenant, spend, tokens, newest event time,
 *                             the dedup window, tree detector states, breakers, and its runs
 *                             while it has at most INLINE_RUNS (one record for most trees)
 *                             — or, once the tree is evicted, its summary
 *                             — or a tombstone once the summary is dropped too
 *   key `treeId NUL runId`    for larger trees, one run: agent, tags, steps, spend, ended, run
 *                             detector states (a tombstone once its tree is evicted); a span of
 *                             one run of a 100-run tree re-writes that run and the tree record
 *
 * Written in the same transaction as the outputs and the input positions it reflects, so a
 * restored processor resumes exactly where the committed log says it was: no trip lost or
 * repeated, no cost counted twice.
 *
 * Binary (layout 3): a version byte, a kind byte, then varints, length-prefixed UTF-8 and the
 * dedup window as 8-byte fingerprints; detector states one by one, the cost-velocity points as
 * varints and the others, whose shape follows their detector, as tagged binary values
 * (plain-value.ts; embedded JSON before, still read, and still written for a state that is not
 * plain JSON-shaped data); breakers as JSON. Private to the processor and read back only by the
 * same code, so no Avro. A detector state embedded by an earlier build is brought to this
 * build's shape by its detector's `revive` (the loop history, once signature texts, now
 * fingerprints) or refused, naming the key and the detector. Layouts 1 (the whole tree as one
 * JSON object) and 2 (all detector states as one JSON object) are still read, so a processor
 * upgraded over an old changelog resumes from it; a layout or state form this build does not
 * know is refused by name. Upgrades go forward only: a build from before the binary values
 * refuses a record this one wrote (unknown state form 2) rather than guess at it.
 */
import { detectorByName, type DetectorName } from '../../streams/detectors/index.js';
import type { CostVelocityState } from '../../streams/detectors/cost-velocity.js';
import type { RunLedger, TreeChanges, TreeLedger, TreeSnapshot, TreeSummary } from '../../streams/engine.js';
import { readPlainValue, writePlainValue } from './plain-value.js';

export const LAYOUT = 3;
/** The layout before detector states went binary where they have a form of their own (still read). */
const LAYOUT_JSON_STATES = 2;
const KIND_TREE = 0x54; // 'T'
const KIND_RUN = 0x52; // 'R'
const KIND_SUMMARY = 0x53; // 'S'
/** Layout 1 was JSON: its first byte is '{'. */
const JSON_OPEN = 0x7b;

/** Run records are keyed under their tree; NUL does not occur in the ids agents send. */
export const runKey = (treeId: string, runId: string): string => `${treeId}\u0000${runId}`;

export class UnreadableSnapshot extends Error {
  readonly code = 'UNREADABLE_SNAPSHOT';
  readonly retriable = false;
  constructor(key: string | null, reason: string) {
    super(`processor state for key '${key}' cannot be read: ${reason}`);
    this.name = 'UnreadableSnapshot';
  }
}

/** A decoded changelog record: what the engine loads. */
export type StateRecord =
  | { kind: 'tree'; tree: Omit<TreeLedger, 'runs'>; runs: Array<[string, RunLedger]> }
  | { kind: 'run'; treeId: string; runId: string; run: RunLedger }
  | { kind: 'summary'; summary: TreeSummary }
  | { kind: 'snapshot'; snapshot: TreeSnapshot };

/** The changelog records for what changed of a tree (tree or summary record first, then its runs). */
export function encodeChanges(changes: TreeChanges): Array<[key: string, value: Buffer | null]> {
  const records: Array<[string, Buffer | null]> = [];
  if (changes.tree) records.push([changes.treeId, encodeTree(changes.tree)]);
  else records.push([changes.treeId, changes.summary ? encodeSummary(changes.summary) : null]);
  for (const [runId, run] of changes.runs) records.push([runKey(changes.treeId, runId), run ? encodeRun(runId, run) : null]);
  return records;
}

/** One record, or null for a tombstone (nothing to load: the key's state was dropped). */
export function decodeRecord(key: string | null, value: Buffer | null): StateRecord | null {
  if (value === null) return null;
  if (key === null) throw new UnreadableSnapshot(key, 'a state record without a key');
  if (value[0] === JSON_OPEN) {
    const snapshot = decodeLayout1(key, value);
    try {
      reviveStates(snapshot.states);
      for (const [, run] of snapshot.runs) reviveStates(run.states);
    } catch (error) {
      throw new UnreadableSnapshot(key, (error as Error).message);
    }
    return { kind: 'snapshot', snapshot };
  }
  if (value[0] !== LAYOUT && value[0] !== LAYOUT_JSON_STATES) throw new UnreadableSnapshot(key, `layout version ${value[0]}, this build reads 1 to ${LAYOUT}`);
  try {
    const r = new Reader(value, 2, value[0]);
    switch (value[1]) {
      case KIND_TREE: {
        const totals = readTotals(r);
        const seen = new Set<number>();
        for (let n = r.uint(); n > 0; n--) seen.add(r.double());
        const states = readStates(r) as TreeLedger['states'];
        const breakers = new Map(r.json() as Array<[string, TreeLedger['breakers'] extends Map<string, infer B> ? B : never]>);
        const splitRuns = r.byte() === 1;
        const runs: Array<[string, RunLedger]> = [];
        if (!splitRuns) for (let n = r.uint(); n > 0; n--) runs.push([r.string(), readRun(r)]);
        return { kind: 'tree', tree: { ...totals, treeId: key, seen, states, breakers, splitRuns }, runs };
      }
      case KIND_RUN: {
        const runId = r.string();
        const treeId = key.slice(0, key.length - runId.length - 1);
        if (runKey(treeId, runId) !== key) throw new Error(`it names run '${runId}'`);
        return { kind: 'run', treeId, runId, run: readRun(r) };
      }
      case KIND_SUMMARY: {
        const totals = readTotals(r);
        const states = readStates(r) as TreeSummary['states'];
        const breakers = new Map(r.json() as Array<[string, TreeSummary['breakers'] extends Map<string, infer B> ? B : never]>);
        return { kind: 'summary', summary: { ...totals, treeId: key, states, breakers } };
      }
      default:
        throw new Error(`unknown record kind ${value[1]}`);
    }
  } catch (error) {
    if (error instanceof UnreadableSnapshot) throw error;
    throw new UnreadableSnapshot(key, (error as Error).message);
  }
}

function encodeTree(tree: Readonly<TreeLedger>): Buffer {
  const w = writer.start(KIND_TREE);
  writeTotals(w, tree);
  w.uint(tree.seen.size);
  for (const fingerprint of tree.seen) w.double(fingerprint);
  writeStates(w, tree.states);
  w.json(tree.breakers.size === 0 ? [] : [...tree.breakers]);
  w.byte(tree.splitRuns ? 1 : 0);
  if (!tree.splitRuns) {
    w.uint(tree.runs.size);
    for (const [runId, run] of tree.runs) {
      w.string(runId);
      writeRun(w, run);
    }
  }
  return w.done();
}

/** What a tree record and a summary record both open with. */
interface Totals {
  tenantId: string;
  costMicros: number;
  tokens: number;
  lastEventMs: number;
}

function writeTotals(w: Writer, totals: Readonly<Totals>): void {
  w.string(totals.tenantId);
  w.uint(totals.costMicros);
  w.uint(totals.tokens);
  w.double(totals.lastEventMs);
}

function readTotals(r: Reader): Totals {
  const tenantId = r.string();
  const costMicros = r.uint();
  const tokens = r.uint();
  const lastEventMs = r.double();
  return { tenantId, costMicros, tokens, lastEventMs };
}

function encodeRun(runId: string, run: Readonly<RunLedger>): Buffer {
  const w = writer.start(KIND_RUN);
  w.string(runId);
  writeRun(w, run);
  return w.done();
}

function writeRun(w: Writer, run: Readonly<RunLedger>): void {
  w.string(run.agentId);
  w.uint(run.tags.length);
  for (const tag of run.tags) w.string(tag);
  w.uint(run.steps);
  w.uint(run.costMicros);
  w.byte(run.ended ? 1 : 0);
  writeStates(w, run.states);
}

function readRun(r: Reader): RunLedger {
  const agentId = r.string();
  const tags: string[] = [];
  for (let n = r.uint(); n > 0; n--) tags.push(r.string());
  const steps = r.uint();
  const costMicros = r.uint();
  const ended = r.byte() === 1;
  const states = readStates(r) as RunLedger['states'];
  return { agentId, tags, steps, costMicros, ended, states };
}

function encodeSummary(summary: Readonly<TreeSummary>): Buffer {
  const w = writer.start(KIND_SUMMARY);
  writeTotals(w, summary);
  writeStates(w, summary.states);
  w.json([...summary.breakers]);
  return w.done();
}

/**
 * Detector states are embedded as their JSON; one written by an earlier build (the loop
 * detector's history as signature texts) is brought to this build's shape by its detector, or
 * refused naming the detector.
 */
function reviveStates<T extends Partial<Record<DetectorName, unknown>>>(states: T): T {
  if (states === null || typeof states !== 'object') throw new Error('detector states are not an object');
  for (const name of Object.keys(states) as DetectorName[]) {
    const revive = detectorByName.get(name)?.revive;
    if (!revive) continue;
    try {
      states[name] = revive(states[name]) as T[DetectorName];
    } catch (error) {
      throw new Error(`detector '${name}': ${(error as Error).message}`);
    }
  }
  return states;
}

/**
 * How a detector state is written in layout 3: JSON, the cost-velocity points as varints, or any
 * other JSON-shaped state as a tagged binary value (plain-value.ts). A build before the third
 * form wrote the others as JSON, which is still read.
 */
const STATE_JSON = 0;
const STATE_POINTS = 1;
const STATE_VALUE = 2;

/**
 * Detector states, one by one: the cost-velocity ones (run and tree) as their points in varints
 * (time deltas and micro-USD: a tree's points were most of its record, and JSON.stringify of
 * them most of the changelog's CPU), every other one as its JSON, which its detector's
 * `revive` may bring up to date when read.
 */
function writeStates(w: Writer, states: Partial<Record<DetectorName, unknown>>): void {
  let count = 0;
  for (const name in states) if (states[name as DetectorName] !== undefined) count += 1;
  w.uint(count);
  for (const key in states) {
    const name = key as DetectorName;
    const state = states[name];
    if (state === undefined) continue;
    w.string(name);
    if (POINT_STATES.has(name) && plainPoints(state)) {
      w.byte(STATE_POINTS);
      w.double(state.newestMs);
      const points = state.points;
      w.uint(points.length);
      let previous = 0;
      for (let i = 0; i < points.length; i++) {
        const point = points[i]!;
        w.uint(point[0] - previous);
        w.uint(point[1]);
        previous = point[0];
      }
    } else {
      const at = w.mark();
      w.byte(STATE_VALUE);
      if (!writePlainValue(w, state)) {
        w.rewind(at);
        w.byte(STATE_JSON);
        w.json(state);
      }
    }
  }
}

function readStates(r: Reader): Partial<Record<DetectorName, unknown>> {
  if (r.layout === LAYOUT_JSON_STATES) return reviveStates(r.json() as Partial<Record<DetectorName, unknown>>);
  const states: Partial<Record<DetectorName, unknown>> = {};
  for (let n = r.uint(); n > 0; n--) {
    const name = r.string() as DetectorName;
    const form = r.byte();
    if (form === STATE_JSON) {
      states[name] = r.json();
    } else if (form === STATE_VALUE) {
      states[name] = readPlainValue(r);
    } else if (form === STATE_POINTS) {
      const newestMs = r.double();
      const points: CostVelocityState['points'] = [];
      let time = 0;
      for (let p = r.uint(); p > 0; p--) {
        time += r.uint();
        points.push([time, r.uint()]);
      }
      states[name] = { points, newestMs } satisfies CostVelocityState;
    } else {
      throw new Error(`detector '${name}': unknown state form ${form}`);
    }
  }
  return reviveStates(states);
}

const POINT_STATES: ReadonlySet<DetectorName> = new Set(['cost_velocity', 'run_cost_velocity']);

/** Points as the cost-velocity detectors keep them: non-negative integers, times ascending. */
function plainPoints(state: unknown): state is CostVelocityState {
  const s = state as Partial<CostVelocityState> | null;
  if (s === null || typeof s !== 'object' || !Array.isArray(s.points) || typeof s.newestMs !== 'number') return false;
  let previous = 0;
  for (let i = 0; i < s.points.length; i++) {
    const point = s.points[i];
    if (!Array.isArray(point) || point.length !== 2) return false;
    const time = point[0];
    const micros = point[1];
    if (!Number.isSafeInteger(time) || !Number.isSafeInteger(micros) || time < previous || micros < 0) return false;
    previous = time;
  }
  return Object.keys(s).length === 2;
}

function decodeLayout1(key: string, value: Buffer): TreeSnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new UnreadableSnapshot(key, (error as Error).message);
  }
  const snapshot = parsed as Partial<TreeSnapshot>;
  if (snapshot.v !== 1) throw new UnreadableSnapshot(key, `layout version ${String(snapshot.v)}, this build reads 1 to ${LAYOUT}`);
  if (snapshot.treeId !== key) throw new UnreadableSnapshot(key, `it names tree '${snapshot.treeId}'`);
  return snapshot as TreeSnapshot;
}

/**
 * Writes into one scratch buffer that grows as needed, and copies each record out once: one
 * allocation per record. Not reentrant (records are encoded one at a time).
 */
class Writer {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private at = 0;

  start(kind: number): this {
    this.at = 0;
    this.byte(LAYOUT);
    this.byte(kind);
    return this;
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.at));
  }

  /** Where the record stands, to `rewind` to when a part turns out to need another form. */
  mark(): number {
    return this.at;
  }

  rewind(at: number): void {
    this.at = at;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  byte(value: number): void {
    this.room(1);
    this.buf[this.at++] = value;
  }

  /** A non-negative integer up to 2^53, 7 bits a byte. */
  uint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative safe integer: ${value}`);
    this.room(8);
    while (value >= 0x80) {
      this.buf[this.at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buf[this.at++] = value;
  }

  double(value: number): void {
    this.room(8);
    this.buf.writeDoubleLE(value, this.at);
    this.at += 8;
  }

  string(value: string): void {
    // Short ASCII (ids, names) is copied here: two native calls (byteLength, write) cost more.
    const n = value.length;
    if (n < 0x80) {
      this.room(n + 1);
      const start = this.at + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[start + i] = c;
      }
      if (i === n) {
        this.buf[this.at] = n; // its length: one varint byte
        this.at = start + n;
        return;
      }
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.uint(length);
    this.room(length);
    this.at += this.buf.write(value, this.at, 'utf8');
  }

  json(value: unknown): void {
    this.string(JSON.stringify(value));
  }
}

const writer = new Writer();

class Reader {
  constructor(private readonly buf: Buffer, private at: number, readonly layout: number = LAYOUT) {}

  private need(bytes: number): void {
    if (this.at + bytes > this.buf.length) throw new Error('truncated record');
  }

  byte(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  uint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new Error('over-long integer');
    }
  }

  double(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return value;
  }

  string(): string {
    const length = this.uint();
    this.need(length);
    const value = this.buf.toString('utf8', this.at, this.at + length);
    this.at += length;
    return value;
  }

  json(): unknown {
    return JSON.parse(this.string());
  }
}
