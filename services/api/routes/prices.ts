/**
 * Prices: what the caller's tenant is priced by (the shipped list and its overrides), and
 * setting or removing an override (admin). An override is published to the prices topic, so
 * the processor and the sink price the next span by it; `fusebox reprice` applies it to spans
 * already stored.
 */
import { findTenantPrice, storedPriceTable, tenantPriceExistsElsewhere, tenantPrices } from '../../../storage/tables/model-prices.js';
import type { PriceVersion, TenantPrice } from '../../../streams/pricing/index.js';
import { notFound } from '../errors.js';
import { overrideBody, overrideList, overrideParams, overrideView, priceList, pricesQuery } from '../prices/schemas.js';
import { publishTenantPrice } from '../prices/publish.js';
import { defineRoute } from '../route.js';
import { iso } from '../schemas.js';

const priceViewOf = (price: PriceVersion) => ({
  provider: price.provider, model: price.model, origin: price.origin, version: price.version, effectiveFrom: iso(price.effectiveFromMs),
  inputMicrosPerMTok: price.inputMicrosPerMTok, outputMicrosPerMTok: price.outputMicrosPerMTok, cachedInputMicrosPerMTok: price.cachedInputMicrosPerMTok, source: price.source,
});

const overrideViewOf = (price: TenantPrice) => ({
  provider: price.provider, model: price.model, effectiveFrom: iso(price.effectiveFromMs),
  inputMicrosPerMTok: price.inputMicrosPerMTok, outputMicrosPerMTok: price.outputMicrosPerMTok, cachedInputMicrosPerMTok: price.cachedInputMicrosPerMTok,
  note: price.note, changedBy: price.changedBy, changedAt: iso(price.changedAtMs),
});

/** How an override version is named in answers and the access log. */
const overrideId = (provider: string, model: string, effectiveFromMs: number) => `${provider}/${model}@${iso(effectiveFromMs)}`;

export const priceRoutes = [
  defineRoute({
    method: 'GET', url: '/v1/prices', tag: 'prices', permission: 'prices:read', resource: 'prices',
    summary: 'List the prices in effect',
    query: pricesQuery, response: priceList,
    async handler({ query, caller, deps }) {
      const at = query.at ?? deps.clock();
      const table = await storedPriceTable(deps.store.client, caller.tenantId);
      return { at: iso(at), prices: table.inEffect(caller.tenantId, at).map(priceViewOf) };
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/prices/overrides', tag: 'prices', permission: 'prices:read', resource: 'price_override',
    summary: 'List price overrides',
    response: overrideList,
    async handler({ caller, deps }) {
      return { overrides: (await tenantPrices(deps.store.client, caller.tenantId)).map(overrideViewOf) };
    },
  }),
  defineRoute({
    method: 'POST', url: '/v1/prices/overrides', tag: 'prices', permission: 'prices:write', resource: 'price_override', status: 201,
    summary: 'Set a price override',
    body: overrideBody, response: overrideView,
    async handler({ body, caller, access, deps }) {
      const now = deps.clock();
      const price: TenantPrice = {
        tenantId: caller.tenantId, provider: body.provider, model: body.model, effectiveFromMs: body.effectiveFrom ?? now,
        inputMicrosPerMTok: body.inputMicrosPerMTok, outputMicrosPerMTok: body.outputMicrosPerMTok, cachedInputMicrosPerMTok: body.cachedInputMicrosPerMTok,
        note: body.note, changedBy: caller.keyId, changedAtMs: now,
      };
      access.resourceId = overrideId(price.provider, price.model, price.effectiveFromMs);
      await publishTenantPrice(deps, price, false);
      return overrideViewOf(price);
    },
  }),
  defineRoute({
    method: 'DELETE', url: '/v1/prices/overrides/:provider/:model/:effectiveFrom', tag: 'prices', permission: 'prices:write', resource: 'price_override',
    summary: 'Remove a price override',
    params: overrideParams, response: overrideView,
    async handler({ params, caller, access, deps }) {
      const id = overrideId(params.provider, params.model, params.effectiveFrom);
      access.resourceId = id;
      const held = await findTenantPrice(deps.store.client, caller.tenantId, params.provider, params.model, params.effectiveFrom);
      if (held === null) {
        access.flagged = await tenantPriceExistsElsewhere(deps.store.client, caller.tenantId, params.provider, params.model, params.effectiveFrom);
        throw notFound('price override', id);
      }
      const removed = { ...held, changedBy: caller.keyId, changedAtMs: Math.max(deps.clock(), held.changedAtMs + 1) };
      await publishTenantPrice(deps, removed, true);
      return overrideViewOf(removed);
    },
  }),
];
