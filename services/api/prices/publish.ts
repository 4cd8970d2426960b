/**
 * Publishes a tenant's price override (or its removal, a tombstone) to the prices topic first:
 * that is what the processor and the sink price by. Then records it in model_prices, which
 * reprice and the API read. Both writes are idempotent under the override's key, so a request
 * that failed half way is retried whole.
 */
import { priceOverrideCodec } from '../../../schemas/index.js';
import { recordTenantPrice } from '../../../storage/tables/model-prices.js';
import { overrideKey, type TenantPrice } from '../../../streams/pricing/index.js';
import { ApiError } from '../errors.js';
import type { ApiDeps } from '../route.js';

export async function publishTenantPrice(deps: ApiDeps, price: TenantPrice, removed: boolean): Promise<void> {
  try {
    const producer = await deps.producer();
    await producer.send(deps.topics.prices, [{ key: overrideKey(price), value: removed ? null : priceOverrideCodec.encode(price) }]);
  } catch (error) {
    throw new ApiError('LOG_UNAVAILABLE', `the price override was not published to the prices topic; nothing changed, try again`, { cause: error });
  }
  try {
    await recordTenantPrice(deps.store.client, price, removed);
  } catch (error) {
    throw new ApiError('STORE_UNAVAILABLE', 'the price override is in force but not yet recorded for reprice and listing; send the same request again', { cause: error });
  }
}
