/**
 * Which price applies to a model call: the shipped list plus tenant overrides, each a series of
 * versions by effective time. Pure and clock-free: the time asked about is the event's.
 *
 * Precedence, first match wins: the tenant's override of (provider, model); the shipped price
 * of (provider, model). A "custom model endpoint" is a tenant override of a provider/model pair
 * the shipped list does not know (a fine-tune, a self-hosted model). Within a series the
 * version with the latest effective time at or before the event applies; a series with no
 * version yet in effect falls through to the next. A model name with a snapshot suffix
 * (gpt-4o-2024-08-06, claude-3-5-haiku-20241022, gemini-1.5-pro-002, gpt-3.5-turbo-0125, ...-latest) is looked up
 * as itself first, then as its base name. A span without a provider matches a model only one
 * provider prices.
 */
import type { Rates } from './cost.js';
import { ratesProblem, type ListPrice } from './price-list.js';

/** A tenant's own price for a provider/model from a time on (runtime; see services/pricing.ts). */
export interface TenantPrice extends Rates {
  tenantId: string;
  provider: string;
  model: string;
  effectiveFromMs: number;
  note: string;
  changedBy: string;
  changedAtMs: number;
}

export interface PriceVersion extends Rates {
  origin: 'shipped' | 'tenant';
  provider: string;
  model: string;
  effectiveFromMs: number;
  /** Names the version exactly, e.g. shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z. */
  version: string;
  /** Where a shipped price comes from, or the note of a tenant's. */
  source: string;
}

export type UnpricedReason = 'no_model' | 'unknown_model' | 'ambiguous_provider' | 'no_price_at_time';

export type PriceLookup = { ok: true; price: PriceVersion } | { ok: false; reason: UnpricedReason };

const SHIPPED = '';
const SNAPSHOT_SUFFIX = /(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-\d{3,4}|-latest)$/;

export function normalizeName(name: string): string {
  return name.trim().toLowerCase();
}

/** The names a model is looked up by: itself, then its base name without a snapshot suffix. */
export function modelNames(model: string): string[] {
  const name = normalizeName(model);
  const base = name.replace(SNAPSHOT_SUFFIX, '');
  return base !== name && base !== '' ? [name, base] : [name];
}

/** The key of one override version: also its Kafka key on the prices topic. */
export function overrideKey(price: Pick<TenantPrice, 'tenantId' | 'provider' | 'model' | 'effectiveFromMs'>): string {
  return JSON.stringify([price.tenantId, normalizeName(price.provider), normalizeName(price.model), price.effectiveFromMs]);
}

export function versionName(origin: 'shipped' | 'tenant', provider: string, model: string, effectiveFromMs: number): string {
  return `${origin}:${provider}/${model}@${new Date(effectiveFromMs).toISOString()}`;
}

const seriesKey = (owner: string, provider: string, model: string) => `${owner}\u0000${provider}\u0000${model}`;
const modelKey = (owner: string, model: string) => `${owner}\u0000${model}`;

export type OverrideChange = { ok: true } | { ok: false; reason: string };

export function createPriceTable(list: readonly ListPrice[]) {
  /** owner (tenant, or '' for shipped) + provider + model -> versions, oldest first. */
  const series = new Map<string, PriceVersion[]>();
  /** owner + model -> providers pricing it, for spans that name no provider. */
  const providersOf = new Map<string, Set<string>>();
  const overrides = new Map<string, TenantPrice>();

  function add(owner: string, version: PriceVersion): void {
    const key = seriesKey(owner, version.provider, version.model);
    const versions = (series.get(key) ?? []).filter((v) => v.effectiveFromMs !== version.effectiveFromMs);
    versions.push(version);
    versions.sort((a, b) => a.effectiveFromMs - b.effectiveFromMs);
    series.set(key, versions);
    const providers = providersOf.get(modelKey(owner, version.model)) ?? new Set<string>();
    providers.add(version.provider);
    providersOf.set(modelKey(owner, version.model), providers);
  }

  function remove(owner: string, provider: string, model: string, effectiveFromMs: number): void {
    const key = seriesKey(owner, provider, model);
    const versions = (series.get(key) ?? []).filter((v) => v.effectiveFromMs !== effectiveFromMs);
    if (versions.length > 0) {
      series.set(key, versions);
      return;
    }
    series.delete(key);
    providersOf.get(modelKey(owner, model))?.delete(provider);
  }

  for (const price of list) {
    const provider = normalizeName(price.provider);
    const model = normalizeName(price.model);
    add(SHIPPED, { ...rates(price), origin: 'shipped', provider, model, effectiveFromMs: price.effectiveFromMs, version: versionName('shipped', provider, model, price.effectiveFromMs), source: price.source });
  }

  /** The series one owner has for this provider (or, without one, the only provider) and model. */
  function find(owner: string, provider: string | null, model: string): PriceVersion[] | 'ambiguous' | undefined {
    if (provider !== null) return series.get(seriesKey(owner, provider, model));
    const providers = providersOf.get(modelKey(owner, model));
    if (!providers || providers.size === 0) return undefined;
    if (providers.size > 1) return 'ambiguous';
    return series.get(seriesKey(owner, [...providers][0]!, model));
  }

  return {
    /** The price in effect at `atMs` for a tenant's call of `model` at `provider`. */
    lookup(tenantId: string, provider: string | null, model: string | null, atMs: number): PriceLookup {
      if (model === null || model.trim() === '') return { ok: false, reason: 'no_model' };
      const providerName = provider === null || provider.trim() === '' ? null : normalizeName(provider);
      let known = false;
      for (const owner of [tenantId, SHIPPED]) {
        for (const name of modelNames(model)) {
          const found = find(owner, providerName, name);
          if (found === undefined) continue;
          if (found === 'ambiguous') return { ok: false, reason: 'ambiguous_provider' };
          known = true;
          const version = latestAt(found, atMs);
          if (version) return { ok: true, price: version };
        }
      }
      return { ok: false, reason: known ? 'no_price_at_time' : 'unknown_model' };
    },

    /**
     * Applies an override version (or its removal, `null`) under its key. An older change than
     * the one held is ignored, so a replayed or reordered topic ends in the same table.
     */
    applyOverride(key: string, price: TenantPrice | null): OverrideChange {
      const held = overrides.get(key);
      if (price === null) {
        if (held) {
          overrides.delete(key);
          remove(held.tenantId, normalizeName(held.provider), normalizeName(held.model), held.effectiveFromMs);
        }
        return { ok: true };
      }
      if (overrideKey(price) !== key) return { ok: false, reason: `key ${key} does not name the override's tenant, provider, model and effective time (${overrideKey(price)})` };
      if (held && held.changedAtMs > price.changedAtMs) return { ok: true };
      const problem = ratesProblem(price);
      if (problem) return { ok: false, reason: `${problem.field}: ${problem.message}` };
      overrides.set(key, price);
      const provider = normalizeName(price.provider);
      const model = normalizeName(price.model);
      add(price.tenantId, { ...rates(price), origin: 'tenant', provider, model, effectiveFromMs: price.effectiveFromMs, version: versionName('tenant', provider, model, price.effectiveFromMs), source: price.note });
      return { ok: true };
    },

    /** Every version a tenant can be priced by: its overrides and the shipped list. */
    versions(tenantId: string): PriceVersion[] {
      const out: PriceVersion[] = [];
      for (const [key, versions] of series) if (key.startsWith(`${tenantId}\u0000`) || key.startsWith(`${SHIPPED}\u0000`)) out.push(...versions);
      return out;
    },

    /** The price of every provider/model a tenant can be priced for, as in effect at `atMs`. */
    inEffect(tenantId: string, atMs: number): PriceVersion[] {
      const pairs = new Set(this.versions(tenantId).map((v) => JSON.stringify([v.provider, v.model])));
      const out: PriceVersion[] = [];
      for (const pair of pairs) {
        const [provider, model] = JSON.parse(pair) as [string, string];
        const found = this.lookup(tenantId, provider, model, atMs);
        if (found.ok && found.price.provider === provider && found.price.model === model) out.push(found.price);
      }
      return out.sort((a, b) => a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
    },

    overrides(tenantId: string): TenantPrice[] {
      return [...overrides.values()].filter((o) => o.tenantId === tenantId);
    },
  };
}

export type PriceTable = ReturnType<typeof createPriceTable>;

function latestAt(versions: readonly PriceVersion[], atMs: number): PriceVersion | undefined {
  let found: PriceVersion | undefined;
  for (const version of versions) {
    if (version.effectiveFromMs > atMs) break;
    found = version;
  }
  return found;
}

function rates(price: Rates): Rates {
  return { inputMicrosPerMTok: price.inputMicrosPerMTok, outputMicrosPerMTok: price.outputMicrosPerMTok, cachedInputMicrosPerMTok: price.cachedInputMicrosPerMTok };
}
