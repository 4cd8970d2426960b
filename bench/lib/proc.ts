/**
 * Resident memory and CPU time of other processes, read from /proc (Linux): the bench's workers by pid, and
 * the Kafka broker's JVM, found by the port it listens on. Reading /proc costs a file read, so a
 * scenario can sample every process it runs each second without disturbing them; a process that
 * has gone (killed on purpose) keeps the figures last read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { MiB } from './stats.js';

/** Current and peak (VmHWM: the kernel's own high-water mark) resident set of `pid`, or null once it is gone. */
export function residentMemory(pid: number): { rssMiB: number; peakMiB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    const [rss, peak] = [kib('VmRSS'), kib('VmHWM')];
    // A process that has exited but not been reaped yet (a zombie) has no memory lines.
    if (Number.isNaN(rss) || Number.isNaN(peak)) return null;
    return { rssMiB: (rss * 1024) / MiB, peakMiB: (peak * 1024) / MiB };
  } catch {
    return null;
  }
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on every Linux build Node supports). */
const USER_HZ = 100;

/** CPU seconds (user + system, all threads) `pid` has used so far, or null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/**
 * The pid of the JVM running the broker at `brokers` (first address), when it runs on this
 * machine: a `kafka.Kafka <server.properties>` process whose properties listen on that port.
 * Other engineers' brokers run on the same machine, so the port, not the name, decides.
 */
export function brokerJvmPid(brokers: readonly string[]): number | null {
  const port = brokers[0]?.split(':').at(-1);
  if (!port) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const main = args.indexOf('kafka.Kafka');
      if (main < 0 || !args[main + 1]) continue;
      const properties = readFileSync(args[main + 1]!, 'utf8');
      if (new RegExp(`^listeners=.*:${port}\\b`, 'm').test(properties)) return Number(entry);
    } catch {
      // Gone while we looked, or not ours to read.
    }
  }
  return null;
}

/** Samples the resident memory of named processes on a timer; peak and last value of each. */
export function memoryWatch(intervalMs = 1_000) {
  const watched = new Map<string, { pid: number; peakMiB: number; lastMiB: number }>();
  const sample = () => {
    for (const entry of watched.values()) {
      const now = residentMemory(entry.pid);
      if (!now) continue;
      entry.lastMiB = now.rssMiB;
      entry.peakMiB = Math.max(entry.peakMiB, now.peakMiB);
    }
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    watch(name: string, pid: number): void {
      watched.set(name, { pid, peakMiB: 0, lastMiB: Number.NaN });
      sample();
    },
    /** CPU seconds used so far by each watched process (name -> seconds); a gone process is left out. */
    cpu(): Map<string, number> {
      const out = new Map<string, number>();
      for (const [name, { pid }] of watched) {
        const seconds = cpuSeconds(pid);
        if (seconds !== null) out.set(name, seconds);
      }
      return out;
    },
    /** Samples once more and stops: name -> peak and last resident MiB. */
    stop(): Map<string, { peakMiB: number; lastMiB: number }> {
      sample();
      clearInterval(timer);
      return new Map([...watched].map(([name, e]) => [name, { peakMiB: e.peakMiB, lastMiB: e.lastMiB }]));
    },
  };
}
