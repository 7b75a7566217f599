/** Prices of an order in its customer's market: currency, tax treatment and tax portion. */
import type { Product } from './catalog';
import { currencyForMarket, taxTreatmentFor, azureReservationsAvailableIn } from './markets';
import { countryName } from './countries';
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

export interface SaleRefusal {
  code: 'market_unavailable';
  message: string;
}

/** Whether a product may be sold in a market: Azure reservations are not available in the document's list. */
export function checkMarket(product: Pick<Product, 'kind' | 'name'>, market: string): SaleRefusal | null {
  if (product.kind === 'azure-reservation' && !azureReservationsAvailableIn(market)) {
    // the country as the customer's record names it (Eswatini, not the list's Swaziland)
    return {
      code: 'market_unavailable',
      message: `Azure reservations are not available in the market ${market} (${countryName(market)}): ${product.name} cannot be sold there`,
    };
  }
  return null;
}
