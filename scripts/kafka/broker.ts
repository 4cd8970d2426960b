/**
 * A real, single-node Apache Kafka broker (KRaft) for tests, benchmarks and local runs on a
 * machine with Java but no Docker engine.
 *
 *   const broker = await startKafkaBroker({ log: console.log })
 *   // ... use broker.brokers ("127.0.0.1:PORT")
 *   await broker.stop()
 *
 * The broker jars come from Maven Central through Maven (scripts/kafka/pom.xml) and are cached
 * in `.cache/kafka-<version>/libs` (ignored by git; Maven also caches in ~/.m2). Each broker
 * gets fresh free ports and a fresh data folder, removed on stop.
 *
 * No stray JVMs: java runs under a tiny shell watchdog that kills it as soon as the Node
 * process that started it is gone, even when that process dies by SIGKILL.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Pinned: kafkajs 2.2.4 speaks every API a 3.9 broker requires; 4.x dropped old versions. */
export const KAFKA_VERSION = '3.9.1';

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, '..', '..');

export interface KafkaBroker {
  /** Bootstrap address, e.g. `127.0.0.1:40123`. */
  readonly brokers: string;
  readonly pid: number;
  readonly logFile: string;
  stop(): Promise<void>;
  /** Stops the JVM but keeps its data and ports: clients see the broker go away (outage tests). */
  halt(): Promise<void>;
  /** Starts a halted broker again on the same ports with the same data. */
  restart(): Promise<void>;
}

export interface StartBrokerOptions {
  /** Progress lines (fetching jars, formatting, starting). Silent by default. */
  log?: (line: string) => void;
  /** Where the jars are cached. Default `<project>/.cache/kafka-<version>/libs`. */
  libsDir?: string;
  /** JVM heap; without it the JVM takes a quarter of RAM. */
  heap?: string;
  /** Default partitions for auto-created topics. */
  defaultPartitions?: number;
  startTimeoutMs?: number;
}

export class KafkaBrokerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaBrokerError';
  }
}

/** Fetches the broker jars with Maven unless they are cached already; returns the folder. */
export function ensureKafkaLibs(libsDir = defaultLibsDir(), log: (line: string) => void = () => {}): string {
  const marker = join(libsDir, `kafka_2.13-${KAFKA_VERSION}.jar`);
  if (existsSync(marker)) return libsDir;
  log(`fetching Apache Kafka ${KAFKA_VERSION} broker jars from Maven Central into ${libsDir} (once) ...`);
  const staging = `${libsDir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const result = spawnSync(
    'mvn',
    [
      '-B', '-q',
      '-f', join(here, 'pom.xml'),
      `-Dkafka.version=${KAFKA_VERSION}`,
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (result.error) {
    throw new KafkaBrokerError(`could not run Maven to fetch the Kafka broker jars (is 'mvn' installed?): ${result.error.message}`, { cause: result.error });
  }
  if (result.status !== 0 || !existsSync(join(staging, `kafka_2.13-${KAFKA_VERSION}.jar`))) {
    throw new KafkaBrokerError(`Maven failed to fetch the Kafka broker jars (exit ${result.status}):\n${tail(result.stdout + result.stderr, 40)}`);
  }
  mkdirSync(dirname(libsDir), { recursive: true });
  rmSync(libsDir, { recursive: true, force: true });
  renameSync(staging, libsDir); // atomic: a half-finished download never looks cached
  log(`cached ${readdirSync(libsDir).length} jars`);
  return libsDir;
}

export async function startKafkaBroker(options: StartBrokerOptions = {}): Promise<KafkaBroker> {
  const log = options.log ?? (() => {});
  const libsDir = ensureKafkaLibs(options.libsDir, log);
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const classpath = `${libsDir}/*`;

  const workDir = mkdtempSync(join(tmpdir(), 'fusebox-kafka-'));
  const [port, controllerPort] = (await freePorts(2)) as [number, number];
  const propsFile = join(workDir, 'server.properties');
  const log4jFile = join(workDir, 'log4j.properties');
  const logFile = join(workDir, 'broker.log');
  writeFileSync(propsFile, serverProperties({ port, controllerPort, logDir: join(workDir, 'data'), partitions: options.defaultPartitions ?? 1 }));
  writeFileSync(log4jFile, log4jProperties(logFile));

  // Cluster id: 16 random bytes, base64url, must not start with '-'.
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');

  const jvmFlags = [`-Xms${options.heap ?? '512m'}`, `-Xmx${options.heap ?? '512m'}`, `-Dlog4j.configuration=file:${log4jFile}`, '-XX:+UseG1GC', '-XX:TieredStopAtLevel=1'];
  log(`formatting KRaft storage in ${workDir}`);
  const format = spawnSync(java, [...jvmFlags, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile], { encoding: 'utf8' });
  if (format.error) throw new KafkaBrokerError(`could not run java (${java}); install a JDK 17+ or set JAVA_HOME: ${format.error.message}`, { cause: format.error });
  if (format.status !== 0) throw new KafkaBrokerError(`formatting Kafka storage failed (exit ${format.status}):\n${tail(format.stdout + format.stderr, 30)}`);

  log(`starting Kafka ${KAFKA_VERSION} on 127.0.0.1:${port}`);
  const javaCommand = [java, ...jvmFlags, '-cp', classpath, 'kafka.Kafka', propsFile].map(shellQuote).join(' ');
  // The watchdog: java in the background, killed when our process (the shell's parent) is gone.
  const watchdog = `${javaCommand} >>${shellQuote(logFile)} 2>&1 & j=$!
trap 'kill $j 2>/dev/null; wait $j; exit 0' TERM INT
while kill -0 ${process.pid} 2>/dev/null && kill -0 $j 2>/dev/null; do sleep 0.5; done
kill $j 2>/dev/null; wait $j`;
  let child: ChildProcess;
  let exited = false;
  const launch = async (): Promise<void> => {
    const launched = spawn('sh', ['-c', watchdog], { stdio: 'ignore' });
    child = launched;
    exited = false;
    launched.once('exit', () => { if (child === launched) exited = true; });
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    while (!(await portOpen(port))) {
      if (exited) {
        const output = existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), 40) : '(no log)';
        rmSync(workDir, { recursive: true, force: true });
        throw new KafkaBrokerError(`the Kafka broker exited before it was ready; its log ends with:\n${output}`);
      }
      if (Date.now() > deadline) {
        const output = existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), 40) : '(no log)';
        await stop();
        throw new KafkaBrokerError(`the Kafka broker did not open port ${port} within ${options.startTimeoutMs ?? 60_000} ms; its log ends with:\n${output}`);
      }
      await sleep(100);
    }
  };

  const stop = async (): Promise<void> => {
    await terminate(child, () => exited);
    rmSync(workDir, { recursive: true, force: true });
  };

  await launch();
  log(`Kafka ready at 127.0.0.1:${port}`);
  return {
    brokers: `127.0.0.1:${port}`,
    get pid() { return child.pid ?? -1; },
    logFile,
    stop,
    halt: () => terminate(child, () => exited),
    restart: launch,
  };
}

function defaultLibsDir(): string {
  return join(projectRoot, '.cache', `kafka-${KAFKA_VERSION}`, 'libs');
}

function serverProperties(p: { port: number; controllerPort: number; logDir: string; partitions: number }): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${p.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${p.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${p.logDir}`,
    `num.partitions=${p.partitions}`,
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'min.insync.replicas=1',
    // The default 3 s delays every first group join; tests and the demo join often.
    'group.initial.rebalance.delay.ms=0',
    'log.cleaner.dedupe.buffer.size=33554432',
    'auto.create.topics.enable=false',
    'num.network.threads=2',
    'num.io.threads=4',
    '',
  ].join('\n');
}

function log4jProperties(logFile: string): string {
  return [
    'log4j.rootLogger=WARN, file',
    'log4j.logger.kafka.server.KafkaServer=INFO',
    'log4j.logger.kafka.server.KafkaRaftServer=INFO',
    'log4j.appender.file=org.apache.log4j.FileAppender',
    `log4j.appender.file.File=${logFile}`,
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    '',
  ].join('\n');
}

async function terminate(child: ChildProcess, hasExited: () => boolean): Promise<void> {
  if (hasExited()) return;
  child.kill('SIGTERM'); // the watchdog forwards it to java, which shuts down cleanly
  const deadline = Date.now() + 20_000;
  while (!hasExited() && Date.now() < deadline) await sleep(50);
  if (!hasExited()) {
    // java is the watchdog's child; kill the whole group of processes it may have left.
    spawnSync('pkill', ['-KILL', '-P', String(child.pid)]);
    child.kill('SIGKILL');
  }
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); ok(true); });
    socket.once('error', () => ok(false));
  });
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function tail(text: string, lines: number): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
