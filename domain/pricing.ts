/** Prices of an order in its customer's market: currency, tax treatment and tax portion. */
import type { Product } from './catalog';
import { currencyForMarket, taxTreatmentFor, azureReservationsAvailableIn, normaliseMarketCode } from './markets';
import { countryName, isMarketCode } from './countries';
import { taxPortionOfInclusive } from './money';
import type { OrderPricing, TaxLine } from './orders';

export function taxLine(amount: number, market: string): TaxLine {
  const t = taxTreatmentFor(market);
  if (!t.inclusive || t.rateBps === null) return { treatment: 'exclusive', rateBps: null, amount: null };
  return { treatment: 'inclusive', rateBps: t.rateBps, amount: taxPortionOfInclusive(amount, t.rateBps) };
}

export function priceOrder(product: Pick<Product, 'prices'>, market: string, quantity: number): OrderPricing {
  const currency = currencyForMarket(market);
  const unitPrice = product.prices[currency] ?? product.prices.USD;
  const priceCurrency = product.prices[currency] === undefined ? 'USD' : currency;
  const total = unitPrice * quantity;
  if (!Number.isSafeInteger(total)) throw new RangeError('order total overflowed');
  return { currency: priceCurrency, unitPrice, quantity, total, tax: taxLine(total, market) };
}

/**
 * An imported purchase's pricing: at the unit price it was bought at when the partner gives it (in the currency the
 * customer's market is priced in, tax included where prices include tax, as list prices are), else at today's list
 * price. The price it was bought at is what a support refund of it may credit at most (QA: a purchase imported
 * without it was priced, and capped, at today's list price, which it may not have cost). A unit price in another
 * currency is refused with the one expected.
 */
export function priceImported(product: Pick<Product, 'prices'>, market: string, quantity: number, paid?: { amount: number; currency: string }): { pricing: OrderPricing } | { currencyExpected: string } {
  const list = priceOrder(product, market, quantity);
  if (!paid) return { pricing: list };
  if (paid.currency !== list.currency) return { currencyExpected: list.currency };
  const total = paid.amount * quantity;
  if (!Number.isSafeInteger(total)) throw new RangeError('order total overflowed');
  return { pricing: { currency: list.currency, unitPrice: paid.amount, quantity, total, tax: taxLine(total, market) } };
}

export interface SaleRefusal {
  code: 'market_unavailable';
  message: string;
}

/**
 * Whether a product may be sold in a market: Azure reservations are not available in the document's list. The code
 * is taken in any letter case, as azureReservationsAvailableIn takes it (review: 'sz' threw a RangeError naming the
 * country instead of refusing); one that is no market code is refused, naming it as sent.
 */
export function checkMarket(product: Pick<Product, 'kind' | 'name'>, market: string): SaleRefusal | null {
  if (product.kind !== 'azure-reservation') return null;
  const code = normaliseMarketCode(market);
  if (azureReservationsAvailableIn(code)) return null;
  // the country as the customer's record names it (Eswatini, not the list's Swaziland)
  const where = isMarketCode(code) ? `${code} (${countryName(code)})` : `${JSON.stringify(market)}, which is not a market code`;
  return { code: 'market_unavailable', message: `Azure reservations are not available in the market ${where}: ${product.name} cannot be sold there` };
}
