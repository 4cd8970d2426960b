/** The machine and the code a run measured, recorded next to the figures they explain. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { KAFKA_VERSION } from '../../scripts/kafka/broker.js';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  /** `3.9.1 (started by the bench)` or the external cluster's address. */
  kafka: string;
  /** 1, 5 and 15 minute load averages when the run started: anything above ~0.5 is someone else. */
  loadAtStart: [number, number, number];
  /** The commit measured, plus whether files outside bench/ differed from it. */
  commit: string;
}

export function machineInfo(kafka: { external: string | null }): MachineInfo {
  const [one, five, fifteen] = loadavg() as [number, number, number];
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
    kafka: kafka.external ? `external cluster at ${kafka.external} (version not checked)` : `Apache Kafka ${KAFKA_VERSION}, single-node KRaft, started by the bench`,
    loadAtStart: [round2(one), round2(five), round2(fifteen)],
    commit: describeCommit(),
  };
}

export function currentLoad(): [number, number, number] {
  return loadavg().map(round2) as [number, number, number];
}

/**
 * Other engineers edit this checkout while benchmarks run, so "which code" is the commit plus
 * the list of source folders with uncommitted changes at the time.
 */
export function describeCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'schemas', 'streams', 'services', 'client', 'log', 'storage'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3).split('/')[0])
      .filter((folder, index, all) => all.indexOf(folder) === index);
    return dirty.length > 0 ? `${head} with uncommitted changes in ${dirty.join(', ')}` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
