/**
 * Configuration, read once from the environment, validated, frozen and passed down. Pure code
 * never reads process.env. Every error names the variable and how to fix it.
 */
import { z } from 'zod';

const brokerList = z
  .string()
  .transform((s) => s.split(',').map((b) => b.trim()).filter((b) => b.length > 0))
  .refine((list) => list.length > 0 && list.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), {
    message: 'expected host:port[,host:port...], e.g. KAFKA_BROKERS=127.0.0.1:9092',
  });

const envSchema = z.object({
  KAFKA_BROKERS: brokerList.optional(),
  CLICKHOUSE_URL: z.url({ message: 'expected an http(s) URL, e.g. CLICKHOUSE_URL=http://127.0.0.1:8123' }).optional(),
  CLICKHOUSE_DATABASE: z.string().min(1).default('default'),
  CLICKHOUSE_USER: z.string().optional(),
  CLICKHOUSE_PASSWORD: z.string().optional(),
  FUSEBOX_DATA_DIR: z.string().min(1).default('.data'),
  FUSEBOX_TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]+$/, { message: 'letters, digits, dot, underscore and dash only' }).default('fusebox'),
  FUSEBOX_PARTITIONS: z.coerce.number().int().min(1).max(1000, { message: 'at most 1000; spans and control topics get this many partitions' }).default(6),
  FUSEBOX_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  FUSEBOX_METRICS_PORT: z.coerce.number().int().min(0).max(65_535, { message: 'a TCP port, or 0 for any free one' }).optional(),
});

export interface Config {
  /** Absent: the in-memory event log (one process, nothing to install). */
  kafkaBrokers: readonly string[] | null;
  clickhouse: { kind: 'chdb'; path: string } | { kind: 'server'; url: string; database: string; username?: string; password?: string };
  dataDir: string;
  topicPrefix: string;
  partitions: number;
  /** Where a service without its own HTTP port serves /healthz, /readyz, /metrics; port null: the service's default. */
  metrics: { host: string; port: number | null };
}

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  readonly retriable = false;
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates environment variables with `schema`; every problem names the variable and its value. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  // An empty variable means "not set", as shells and compose files often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}=${JSON.stringify(present[String(issue.path[0])] ?? '')}: ${issue.message}`));
  }
  return parsed.data;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  const e = parseEnv(envSchema, env);
  return Object.freeze({
    kafkaBrokers: e.KAFKA_BROKERS ? Object.freeze(e.KAFKA_BROKERS) : null,
    clickhouse: e.CLICKHOUSE_URL
      ? { kind: 'server' as const, url: e.CLICKHOUSE_URL, database: e.CLICKHOUSE_DATABASE, username: e.CLICKHOUSE_USER, password: e.CLICKHOUSE_PASSWORD }
      : { kind: 'chdb' as const, path: `${e.FUSEBOX_DATA_DIR}/chdb` },
    dataDir: e.FUSEBOX_DATA_DIR,
    topicPrefix: e.FUSEBOX_TOPIC_PREFIX,
    partitions: e.FUSEBOX_PARTITIONS,
    metrics: Object.freeze({ host: e.FUSEBOX_METRICS_HOST, port: e.FUSEBOX_METRICS_PORT ?? null }),
  });
}
