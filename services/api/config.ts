/**
 * The query API's own settings, read once like services/config.ts (which the API also loads
 * for Kafka and ClickHouse). Kept apart so the shared Config stays the pipeline's.
 */
import { z } from 'zod';
import { ConfigError } from '../config.js';

const envSchema = z.object({
  FUSEBOX_API_HOST: z.string().min(1).default('127.0.0.1'),
  FUSEBOX_API_PORT: z.coerce.number().int().min(0).max(65535, { message: 'a TCP port, 0 to 65535 (0 picks a free one)' }).default(8787),
});

export interface ApiConfig {
  host: string;
  port: number;
}

export function loadApiConfig(env: Record<string, string | undefined> = process.env): Readonly<ApiConfig> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}=${JSON.stringify(present[String(issue.path[0])] ?? '')}: ${issue.message}`));
  }
  return Object.freeze({ host: parsed.data.FUSEBOX_API_HOST, port: parsed.data.FUSEBOX_API_PORT });
}
