/**
 * The gateway's own settings, read once like services/config.ts (which it also loads for Kafka
 * and ClickHouse), validated and frozen.
 */
import { z } from 'zod';
import { parseEnv } from '../config.js';

const positive = z.coerce.number().positive();

const envSchema = z.object({
  FUSEBOX_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  FUSEBOX_GATEWAY_PORT: z.coerce.number().int().min(0).max(65535, { message: 'a TCP port, 0 to 65535 (0 picks a free one)' }).default(8788),
  FUSEBOX_GATEWAY_BODY_LIMIT: z.coerce.number().int().min(1024, { message: 'at least 1024 bytes' }).default(5 * 1024 * 1024),
  FUSEBOX_GATEWAY_RATE: positive.refine((n) => n <= 1_000_000, { message: 'requests per second per API key, at most 1,000,000' }).default(200),
  FUSEBOX_GATEWAY_BURST: z.coerce.number().int().min(1, { message: 'at least 1 request' }).optional(),
  FUSEBOX_GATEWAY_MAX_PENDING_SPANS: z.coerce.number().int().min(0, { message: '0 or more spans (0 refuses every batch: a draining gateway)' }).default(100_000),
  FUSEBOX_GATEWAY_HEARTBEAT_MS: z.coerce.number().int().min(100).default(15_000),
  FUSEBOX_GATEWAY_KEY_TTL_MS: z.coerce.number().int().min(0).max(60_000, { message: 'at most 60000 ms: a revoked key is served for up to this long' }).default(5_000),
  FUSEBOX_GATEWAY_KEY_CACHE_SIZE: z.coerce.number().int().min(1, { message: 'at least 1 key' }).default(10_000),
});

export interface GatewayLimits {
  /** Largest request body; larger is 413. */
  bodyLimitBytes: number;
  /** Per API key: sustained requests per second, and the burst allowed after a quiet spell. */
  ratePerSecond: number;
  rateBurst: number;
  /** Spans accepted but not yet acknowledged by the log beyond which requests get 503. */
  maxPendingSpans: number;
  /** Comment lines on an idle control stream, so proxies keep it open. */
  heartbeatMs: number;
  /** How long an API key read from ClickHouse is trusted (a revoked key is refused at most this long after); 0: read per request. */
  keyTtlMs: number;
  /** API keys cached at most. */
  keyCacheSize: number;
}

export interface GatewayConfig extends GatewayLimits {
  host: string;
  port: number;
}

export const DEFAULT_LIMITS: Readonly<GatewayLimits> = Object.freeze(limitsOf(envSchema.parse({})));

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): Readonly<GatewayConfig> {
  const e = parseEnv(envSchema, env);
  return Object.freeze({ host: e.FUSEBOX_GATEWAY_HOST, port: e.FUSEBOX_GATEWAY_PORT, ...limitsOf(e) });
}

function limitsOf(e: z.output<typeof envSchema>): GatewayLimits {
  return {
    bodyLimitBytes: e.FUSEBOX_GATEWAY_BODY_LIMIT,
    ratePerSecond: e.FUSEBOX_GATEWAY_RATE,
    rateBurst: e.FUSEBOX_GATEWAY_BURST ?? Math.max(1, Math.ceil(e.FUSEBOX_GATEWAY_RATE * 2)),
    maxPendingSpans: e.FUSEBOX_GATEWAY_MAX_PENDING_SPANS,
    heartbeatMs: e.FUSEBOX_GATEWAY_HEARTBEAT_MS,
    keyTtlMs: e.FUSEBOX_GATEWAY_KEY_TTL_MS,
    keyCacheSize: e.FUSEBOX_GATEWAY_KEY_CACHE_SIZE,
  };
}
