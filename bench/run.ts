/**
 * `npm run bench`: Fusebox's benchmarks, on a real Kafka broker and chDB, with one command.
 *
 *   npm run bench                      every scenario, full size (about 5 minutes on 2 cores); rewrites BENCHMARKS.md
 *   npm run bench -- processor sink    only these; their entries in BENCHMARKS.md are refreshed, the rest kept
 *   npm run bench -- --short           every scenario, small (meant for under 3 minutes); prints, writes nothing
 *   options: --no-write (full run that leaves BENCHMARKS.md alone), --write (a short run that writes anyway),
 *            --profile (CPU profiles of every bench process into bench/.profiles/; read them with
 *            `npx tsx bench/profile-top.ts bench/.profiles/*.cpuprofile`), --render (rewrite
 *            BENCHMARKS.md from bench/results.json without running anything), --help
 *
 * It starts a single-node Kafka 3.9.1 broker (scripts/kafka/broker.ts) unless KAFKA_BROKERS
 * names one, transpiles the sources into plain JavaScript for its processes (lib/js-tree.ts;
 * BENCH_TSX=1 runs them through tsx instead), runs each scenario in a fresh Node process
 * (bench/workers/scenario.ts), and stops the broker at the end, on failure and on Ctrl-C.
 * Scenarios create their own topics and chDB folders and remove them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKafkaBroker, type KafkaBroker } from '../scripts/kafka/broker.js';
import { killAllWorkers, startWorker } from './lib/child.js';
import { buildJsTree } from './lib/js-tree.js';
import { warmBroker } from './lib/kafka.js';
import { seconds, textTable } from './lib/format.js';
import { describeCommit, machineInfo } from './lib/machine.js';
import { loadResults, mergeResults, writeBenchmarks, type RunRecord } from './lib/report.js';
import type { ScenarioResult } from './lib/results.js';
import { SCENARIOS } from './scenarios/index.js';
import type { ScenarioInput } from './workers/scenario.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
const print = (line: string) => process.stdout.write(`[bench ${seconds(Date.now() - started).padStart(7)}] ${line}\n`);

interface Args {
  names: string[];
  short: boolean;
  write: boolean;
  profile: boolean;
  render: boolean;
}

function parseArgs(argv: string[]): Args | null {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const names = argv.filter((a) => !a.startsWith('--'));
  if (flags.has('--help')) return null;
  const unknownFlag = [...flags].find((f) => !['--short', '--write', '--no-write', '--profile', '--render'].includes(f));
  if (unknownFlag) throw new Error(`unknown option ${unknownFlag}; try --help`);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const short = flags.has('--short');
  return {
    names: names.length > 0 ? SCENARIOS.filter((s) => names.includes(s.name)).map((s) => s.name) : SCENARIOS.map((s) => s.name),
    short,
    // Short figures are a quick check, not a record: they replace nothing unless asked.
    write: flags.has('--write') || (!short && !flags.has('--no-write')),
    profile: flags.has('--profile'),
    render: flags.has('--render'),
  };
}

function usage(): string {
  return [
    'usage: npm run bench [-- [scenario ...] [--short] [--no-write | --write] [--profile] | --render]',
    '',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(13)} ${s.title}`),
    '',
    'KAFKA_BROKERS=host:port uses an existing Kafka cluster instead of starting one.',
  ].join('\n');
}

/** The command as someone would type it again, for BENCHMARKS.md. */
function commandLine(argv: string[]): string {
  return argv.length > 0 ? `npm run bench -- ${argv.join(' ')}` : 'npm run bench';
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  if (!args) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const resultsPath = join(root, 'bench', 'results.json');
  if (args.render) {
    writeBenchmarks(join(root, 'BENCHMARKS.md'), loadResults(resultsPath), SCENARIOS);
    print('rewrote BENCHMARKS.md from bench/results.json');
    return 0;
  }
  const external = process.env.KAFKA_BROKERS?.trim() || null;
  const machine = machineInfo({ external });
  print(`Fusebox benchmarks (${args.short ? 'short' : 'full'} mode): ${args.names.join(', ')}`);
  print(`machine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${machine.loadAtStart.join(' / ')}`);
  if (machine.loadAtStart[0] >= 0.5) print('  the machine is busy before we start (others are running tests): figures will be lower than on a quiet machine');
  if (args.profile) {
    process.env.BENCH_PROFILE_DIR = join(root, 'bench', '.profiles');
    mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
    print(`CPU profiles of every bench process go to ${process.env.BENCH_PROFILE_DIR} (the processes run from the TypeScript sources through tsx, so that the profiles name them)`);
  } else if (process.env.BENCH_TSX === '1') {
    print('the bench\'s processes run from the TypeScript sources through tsx (BENCH_TSX=1)');
  } else {
    const built = await buildJsTree(root);
    process.env.BENCH_JS_TREE = built.tree;
    print(`the bench's processes run as plain JavaScript: ${built.modules} modules transpiled and ${built.assets} files beside them copied to ${relative(root, built.tree)} in ${(built.ms / 1000).toFixed(1)} s`);
  }

  let broker: KafkaBroker | null = null;
  const shutdown = async () => {
    killAllWorkers();
    await broker?.stop();
    broker = null;
  };
  process.once('SIGINT', () => { print('interrupted: stopping workers and the broker'); void shutdown().finally(() => process.exit(130)); });
  process.once('SIGTERM', () => { void shutdown().finally(() => process.exit(143)); });

  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  try {
    if (external) {
      print(`using the Kafka cluster at ${external} (KAFKA_BROKERS)`);
    } else {
      broker = await startKafkaBroker({ log: (line) => print(`kafka: ${line}`), defaultPartitions: 6 });
    }
    const brokers = (external ?? broker!.brokers).split(',');
    print('warming the broker up (group coordinator, transaction coordinator)');
    await warmBroker(brokers);

    for (const name of args.names) {
      const info = SCENARIOS.find((s) => s.name === name)!;
      print(`── ${name}: ${info.title}`);
      const worker = startWorker<ScenarioResult>('workers/scenario.ts', { name, brokers, short: args.short } satisfies ScenarioInput, {
        label: name,
        progress: print,
        timeoutMs: args.short ? Math.min(info.timeoutMs, 150_000) : info.timeoutMs,
      });
      const commit = describeCommit();
      try {
        const result = { ...(await worker.result), commit };
        results.push(result);
        print(`── ${name} done in ${seconds(result.durationMs)}`);
        for (const note of result.notes) print(`   note: ${note}`);
      } catch (error) {
        failures.push(name);
        print(`── ${name} FAILED: ${(error as Error).message}`);
      }
    }
  } finally {
    if (broker) print('stopping the Kafka broker');
    await shutdown();
  }

  process.stdout.write(`\n${textTable(results)}\n\n`);
  if (args.write && results.length > 0) {
    const run: RunRecord = { date: new Date(started).toISOString(), command: commandLine(argv), mode: args.short ? 'short' : 'full', machine };
    const file = mergeResults(loadResults(resultsPath), run, results);
    writeFileSync(resultsPath, `${JSON.stringify(file, null, 2)}\n`);
    writeBenchmarks(join(root, 'BENCHMARKS.md'), file, SCENARIOS);
    print(`wrote BENCHMARKS.md and bench/results.json (${results.map((r) => r.scenario).join(', ')})`);
  } else if (!args.write) {
    print('BENCHMARKS.md left as it is (short mode or --no-write)');
  }
  if (failures.length > 0) print(`failed: ${failures.join(', ')}`);
  print(`total ${seconds(Date.now() - started)}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    killAllWorkers();
    process.exit(2);
  },
);
