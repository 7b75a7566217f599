/**
 * Market rules from the specification ("Sell software subscriptions through CSP"):
 *  - the markets where Azure reservations are not available (the document's table, names kept verbatim);
 *  - tax treatment: all commercial pricing excludes tax except Australia and Brazil, where the price includes tax;
 *  - the billing currency of a market and the minor-unit digits of a currency.
 * Market codes are ISO 3166-1 alpha-2 (plus XK, Kosovo), see ./countries.
 */
import { isMarketCode } from './countries';

/**
 * Every name of the document's "Azure reservations unavailable markets" table, exactly as written there
 * (list correct as of Nov 30, 2019 according to the document), in the table's column order.
 * 109 names (35 full rows of 3 and 2 rows of 2).
 */
export const AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES: readonly string[] = Object.freeze([
  // first column
  'Åland Islands',
  'American Samoa',
  'Andorra',
  'Anguilla',
  'Antarctica',
  'Antigua and Barbuda',
  'Aruba',
  'Azerbaijan',
  'Benin',
  'Bhutan',
  'Bonaire',
  'Bouvet Island',
  'British Indian Ocean Territory',
  'British Virgin Islands',
  'Burkina Faso',
  'Burundi',
  'Cambodia',
  'Central African Republic',
  'Chad',
  'China',
  'Christmas Island',
  'Cocos (Keeling) Islands',
  'Comoros',
  'Congo',
  'Congo (DRC)',
  'Cook Islands',
  'Djibouti',
  'Dominica',
  'Equatorial Guinea',
  'Eritrea',
  'Falkland Islands',
  'French Guiana',
  'French Polynesia',
  'French Southern Territories',
  'Gabon',
  'Gambia',
  'Gibraltar',
  // second column
  'Greenland',
  'Grenada',
  'Guadeloupe',
  'Guam',
  'Guernsey',
  'Guinea',
  'Guinea-Bissau',
  'Guyana',
  'Haiti',
  'Heard Island and McDonald Islands',
  'Isle of Man',
  'Jan Mayen',
  'Jersey',
  'Kiribati',
  'Kosovo',
  'Laos',
  'Lesotho',
  'Liberia',
  'Madagascar',
  'Malawi',
  'Maldives',
  'Mali',
  'Marshall Islands',
  'Martinique',
  'Mauritania',
  'Mayotte',
  'Micronesia',
  'Montserrat',
  'Mozambique',
  'Myanmar',
  'Nauru',
  'New Caledonia',
  'Niger',
  'Niue',
  'Norfolk Island',
  'Northern Mariana Islands',
  'Palau',
  // third column
  'Papua New Guinea',
  'Pitcairn Islands',
  'Reunion',
  'Saba',
  'Saint Barthélemy',
  'Saint Lucia',
  'Saint Martin',
  'Saint Pierre and Miquelon',
  'Saint Vincent and the Grenadines',
  'Samoa',
  'San Marino',
  'São Tomé and Príncipe',
  'Seychelles',
  'Sierra Leone',
  'Sint Eustatius',
  'Sint Maarten',
  'Solomon Islands',
  'Somalia',
  'South Georgia and South Sandwich Islands',
  'South Sudan',
  'St Helena, Ascension, Tristan da Cunha',
  'Suriname',
  'Svalbard',
  'Swaziland',
  'Timor-Leste',
  'Togo',
  'Tokelau',
  'Tonga',
  'Turks and Caicos Islands',
  'Tuvalu',
  'U.S. Outlying Islands',
  'Vanuatu',
  'Vatican City',
  'Wallis and Futuna',
  'Yemen',
]);

/**
 * Each name of the table to its ISO 3166-1 alpha-2 code. Several names share one code:
 * Bonaire, Saba and Sint Eustatius are BQ; Svalbard and Jan Mayen are SJ.
 * Kosovo is the user-assigned XK; Swaziland is today's Eswatini (SZ).
 */
export const MARKET_NAME_TO_CODE: Readonly<Record<string, string>> = Object.freeze({
  'Åland Islands': 'AX',
  'American Samoa': 'AS',
  'Andorra': 'AD',
  'Anguilla': 'AI',
  'Antarctica': 'AQ',
  'Antigua and Barbuda': 'AG',
  'Aruba': 'AW',
  'Azerbaijan': 'AZ',
  'Benin': 'BJ',
  'Bhutan': 'BT',
  'Bonaire': 'BQ',
  'Bouvet Island': 'BV',
  'British Indian Ocean Territory': 'IO',
  'British Virgin Islands': 'VG',
  'Burkina Faso': 'BF',
  'Burundi': 'BI',
  'Cambodia': 'KH',
  'Central African Republic': 'CF',
  'Chad': 'TD',
  'China': 'CN',
  'Christmas Island': 'CX',
  'Cocos (Keeling) Islands': 'CC',
  'Comoros': 'KM',
  'Congo': 'CG',
  'Congo (DRC)': 'CD',
  'Cook Islands': 'CK',
  'Djibouti': 'DJ',
  'Dominica': 'DM',
  'Equatorial Guinea': 'GQ',
  'Eritrea': 'ER',
  'Falkland Islands': 'FK',
  'French Guiana': 'GF',
  'French Polynesia': 'PF',
  'French Southern Territories': 'TF',
  'Gabon': 'GA',
  'Gambia': 'GM',
  'Gibraltar': 'GI',
  'Greenland': 'GL',
  'Grenada': 'GD',
  'Guadeloupe': 'GP',
  'Guam': 'GU',
  'Guernsey': 'GG',
  'Guinea': 'GN',
  'Guinea-Bissau': 'GW',
  'Guyana': 'GY',
  'Haiti': 'HT',
  'Heard Island and McDonald Islands': 'HM',
  'Isle of Man': 'IM',
  'Jan Mayen': 'SJ',
  'Jersey': 'JE',
  'Kiribati': 'KI',
  'Kosovo': 'XK',
  'Laos': 'LA',
  'Lesotho': 'LS',
  'Liberia': 'LR',
  'Madagascar': 'MG',
  'Malawi': 'MW',
  'Maldives': 'MV',
  'Mali': 'ML',
  'Marshall Islands': 'MH',
  'Martinique': 'MQ',
  'Mauritania': 'MR',
  'Mayotte': 'YT',
  'Micronesia': 'FM',
  'Montserrat': 'MS',
  'Mozambique': 'MZ',
  'Myanmar': 'MM',
  'Nauru': 'NR',
  'New Caledonia': 'NC',
  'Niger': 'NE',
  'Niue': 'NU',
  'Norfolk Island': 'NF',
  'Northern Mariana Islands': 'MP',
  'Palau': 'PW',
  'Papua New Guinea': 'PG',
  'Pitcairn Islands': 'PN',
  'Reunion': 'RE',
  'Saba': 'BQ',
  'Saint Barthélemy': 'BL',
  'Saint Lucia': 'LC',
  'Saint Martin': 'MF',
  'Saint Pierre and Miquelon': 'PM',
  'Saint Vincent and the Grenadines': 'VC',
  'Samoa': 'WS',
  'San Marino': 'SM',
  'São Tomé and Príncipe': 'ST',
  'Seychelles': 'SC',
  'Sierra Leone': 'SL',
  'Sint Eustatius': 'BQ',
  'Sint Maarten': 'SX',
  'Solomon Islands': 'SB',
  'Somalia': 'SO',
  'South Georgia and South Sandwich Islands': 'GS',
  'South Sudan': 'SS',
  'St Helena, Ascension, Tristan da Cunha': 'SH',
  'Suriname': 'SR',
  'Svalbard': 'SJ',
  'Swaziland': 'SZ',
  'Timor-Leste': 'TL',
  'Togo': 'TG',
  'Tokelau': 'TK',
  'Tonga': 'TO',
  'Turks and Caicos Islands': 'TC',
  'Tuvalu': 'TV',
  'U.S. Outlying Islands': 'UM',
  'Vanuatu': 'VU',
  'Vatican City': 'VA',
  'Wallis and Futuna': 'WF',
  'Yemen': 'YE',
});

/** The distinct market codes where Azure reservations cannot be sold (106 codes for the 109 names). */
export const AZURE_RESERVATION_UNAVAILABLE_MARKETS: ReadonlySet<string> = new Set(
  AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES.map((name) => MARKET_NAME_TO_CODE[name]),
);

/** Normalises a market code for look-ups: trims and upper-cases ("us " -> "US"). */
function norm(code: string): string {
  return String(code).trim().toUpperCase();
}

/** A market code as the tables hold it ("sz " -> "SZ"): the look-ups here take any letter case, so callers name it so. */
export const normaliseMarketCode = (code: string): string => norm(code);

/**
 * True when Azure reservations may be sold in the market `code` (ISO 3166-1 alpha-2, case-insensitive).
 * False for a market of the document's table, and for anything that is not a known market code.
 */
export function azureReservationsAvailableIn(code: string): boolean {
  const c = norm(code);
  return isMarketCode(c) && !AZURE_RESERVATION_UNAVAILABLE_MARKETS.has(c);
}

/**
 * The document's names for a market code, in table order, e.g. BQ -> ["Bonaire", "Saba", "Sint Eustatius"];
 * [] for a market that is not in the table: how the list maps its names to codes (the refusal itself names the
 * country as the customer's record does: domain/pricing.ts checkMarket).
 */
export function unavailableMarketNames(code: string): string[] {
  const c = norm(code);
  return AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES.filter((name) => MARKET_NAME_TO_CODE[name] === c);
}

// ---------------------------------------------------------------------------------------------
// Tax

/**
 * Markets whose commercial prices include tax ("All commercial pricing excludes tax with the exception of
 * Australia and Brazil. For Australia and Brazil, the price includes tax."), with a tax rate in basis points.
 * AU: GST 10 %. BR: 14.25 % is ILLUSTRATIVE only (Brazilian tax on software depends on the state and the
 * tax regime: ISS, PIS/COFINS, ...); a real deployment takes the rate from the tax engine.
 */
export const TAX_INCLUSIVE_MARKETS: Readonly<Record<string, number>> = Object.freeze({
  AU: 1000,
  BR: 1425, // illustrative
});

export interface TaxTreatment {
  /** true when the list price already contains tax (AU, BR); false when tax is added on top. */
  inclusive: boolean;
  /** tax rate included in the price, in basis points (1000 = 10 %); null when prices exclude tax. */
  rateBps: number | null;
}

/** Tax treatment of the prices in a market: inclusive with a rate for AU and BR, exclusive (rate null) elsewhere. */
export function taxTreatmentFor(code: string): TaxTreatment {
  const c = norm(code);
  if (Object.prototype.hasOwnProperty.call(TAX_INCLUSIVE_MARKETS, c)) {
    return { inclusive: true, rateBps: TAX_INCLUSIVE_MARKETS[c] };
  }
  return { inclusive: false, rateBps: null };
}

// ---------------------------------------------------------------------------------------------
// Currency

/** Euro-area member states (the 21 EU countries whose currency is the euro, Bulgaria since 1 January 2026). */
export const EURO_AREA_MEMBERS: readonly string[] = Object.freeze([
  'AT', 'BE', 'BG', 'CY', 'DE', 'EE', 'ES', 'FI', 'FR', 'GR', 'HR',
  'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PT', 'SI', 'SK',
]);

/**
 * Other markets whose legal tender is the euro: parts of euro-area states with their own ISO code
 * (Åland, French overseas departments and collectivities), the microstates with a monetary agreement
 * with the EU, and Montenegro and Kosovo (unilateral use).
 */
export const OTHER_EURO_MARKETS: readonly string[] = Object.freeze([
  'AX', 'BL', 'GF', 'GP', 'MF', 'MQ', 'PM', 'RE', 'TF', 'YT',
  'AD', 'MC', 'SM', 'VA',
  'ME', 'XK',
]);

/** Billing currency (ISO 4217) of the markets that do not bill in USD; every other market bills in USD. */
export const MARKET_CURRENCY: Readonly<Record<string, string>> = Object.freeze({
  US: 'USD',
  CA: 'CAD',
  GB: 'GBP',
  AU: 'AUD',
  BR: 'BRL',
  JP: 'JPY',
  IN: 'INR',
  CH: 'CHF',
  LI: 'CHF',
  NZ: 'NZD',
  ...Object.fromEntries([...EURO_AREA_MEMBERS, ...OTHER_EURO_MARKETS].map((c) => [c, 'EUR'])),
});

/** The currency used for every market not listed in MARKET_CURRENCY. */
export const DEFAULT_MARKET_CURRENCY = 'USD';

/** Billing currency of a market (case-insensitive code); USD for any market not listed in MARKET_CURRENCY. */
export function currencyForMarket(code: string): string {
  const c = norm(code);
  return Object.prototype.hasOwnProperty.call(MARKET_CURRENCY, c) ? MARKET_CURRENCY[c] : DEFAULT_MARKET_CURRENCY;
}

/** Digits after the decimal point of a currency's minor unit (ISO 4217); 2 for any currency not listed. */
export const CURRENCY_MINOR_DIGITS: Readonly<Record<string, number>> = Object.freeze({
  USD: 2,
  CAD: 2,
  GBP: 2,
  EUR: 2,
  AUD: 2,
  BRL: 2,
  JPY: 0,
  INR: 2,
  CHF: 2,
  NZD: 2,
});

/** Minor-unit digits of a currency (case-insensitive): 0 for JPY, 2 otherwise. */
export function minorDigits(currency: string): number {
  const c = norm(currency);
  return Object.prototype.hasOwnProperty.call(CURRENCY_MINOR_DIGITS, c) ? CURRENCY_MINOR_DIGITS[c] : 2;
}
