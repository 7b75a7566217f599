/**
 * Money in integer minor units with its currency. No floating point anywhere:
 * ratios are computed with BigInt and rounded half up to the minor unit.
 */
import { minorDigits } from './markets';

export interface Money {
  /** integer amount in the currency's minor unit (cents; yen for JPY) */
  amount: number;
  /** ISO 4217 code */
  currency: string;
}

export function money(amount: number, currency: string): Money {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`money amount must be a safe integer, got ${amount}`);
  return { amount, currency };
}

/** amount * numerator / denominator, rounded half up (all integers). */
export function mulDiv(amount: number, numerator: number, denominator: number): number {
  if (!Number.isSafeInteger(amount) || !Number.isSafeInteger(numerator) || !Number.isSafeInteger(denominator) || denominator <= 0) {
    throw new RangeError(`mulDiv needs safe integers and a positive denominator (${amount} * ${numerator} / ${denominator})`);
  }
  const a = BigInt(amount) * BigInt(numerator);
  const d = BigInt(denominator);
  const negative = a < 0n;
  const abs = negative ? -a : a;
  const rounded = (abs * 2n + d) / (2n * d);
  return Number(negative ? -rounded : rounded);
}

export function sum(amounts: readonly number[]): number {
  let total = 0;
  for (const a of amounts) {
    total += a;
    if (!Number.isSafeInteger(total)) throw new RangeError('money total overflowed');
  }
  return total;
}

/** The tax contained in a tax-inclusive amount at `rateBps` basis points: amount * r / (1 + r). */
export function taxPortionOfInclusive(amount: number, rateBps: number): number {
  return mulDiv(amount, rateBps, 10_000 + rateBps);
}

/** "1234.56"-style decimal string of minor units, without floating point. */
export function formatMinor(amount: number, digits: number): string {
  const negative = amount < 0;
  const s = String(Math.abs(amount)).padStart(digits + 1, '0');
  const whole = digits === 0 ? s : s.slice(0, -digits);
  const frac = digits === 0 ? '' : `.${s.slice(-digits)}`;
  return `${negative ? '-' : ''}${whole}${frac}`;
}

/**
 * Money as people read it, in the currency's own format ("$1,000.00", "A$2,954.88", "R$4,860.00"), from integer
 * minor units without floating point: the pages and the emails alike.
 */
export function formatMoney(amount: number, currency: string, locale = 'en-US'): string {
  const digits = minorDigits(currency);
  return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(
    formatMinor(amount, digits) as unknown as number,
  );
}

/**
 * An amount as people type it, in a currency's minor units without floating point: "61.5", "1944.00" and "1,944.00"
 * (thousands grouped by commas, as the pages show amounts); null when it is not one, or has more decimals than the
 * currency has.
 */
export function parseAmount(value: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const m = /^([0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:[.]([0-9]+))?$/.exec(value.trim());
  if (!m || (m[2] ?? '').length > digits) return null;
  const minor = Number(m[1].replace(/,/g, '') + (m[2] ?? '').padEnd(digits, '0'));
  return Number.isSafeInteger(minor) ? minor : null;
}

/** An amount to show as an example in a currency's own form: "61.00" in USD, "61" in JPY. */
export function amountExample(currency: string): string {
  const digits = minorDigits(currency);
  return formatMinor(61 * 10 ** digits, digits);
}
