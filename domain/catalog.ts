/**
 * The product catalog the source document names. Prices are illustrative list prices in USD cents;
 * `priceIn` converts them to a market's currency with fixed, illustrative price-list rates.
 * The cancellation policy (and its window length) is data on the product, never a constant in code.
 */
import { mulDiv } from './money';

/** Each enum is defined once here; the TypeScript types and the API's JSON schemas both come from it. */
export const PRODUCT_KINDS = ['azure-reservation', 'server-subscription', 'perpetual-software', 'extended-security-update', 'linux-software-plan'] as const;
export type ProductKind = (typeof PRODUCT_KINDS)[number];
export const BILLING_TYPES = ['subscription', 'perpetual'] as const;
export const CANCELLATION_MODES = ['standard-window', 'support-request-only', 'never'] as const;
export const DELIVERABLES = ['activation-key', 'azure-reservation', 'software-plan'] as const;

export type Billing = { type: Extract<(typeof BILLING_TYPES)[number], 'subscription'>; termMonths: number } | { type: Extract<(typeof BILLING_TYPES)[number], 'perpetual'> };

export type CancellationMode = (typeof CANCELLATION_MODES)[number];
export type CancellationPolicy =
  | { mode: Extract<CancellationMode, 'standard-window'>; windowDays: number }
  | { mode: Extract<CancellationMode, 'support-request-only'> }
  | { mode: Extract<CancellationMode, 'never'> };

export type Deliverable = (typeof DELIVERABLES)[number];

/**
 * One downloadable file of a product, named as Partner Center names its software download options:
 * `optionKey` identifies it, `optionTitle` is the version, then the language and the file type / OS.
 * The files themselves are deterministic stand-in images of `sizeBytes` bytes (lib/files.ts).
 */
export interface DownloadOption {
  optionKey: string;
  optionTitle: string;
  languageCode: string;
  languageName: string;
  fileType: string;
  fileName: string;
  contentType: string;
  sizeBytes: number;
}

export interface DownloadLanguage {
  code: string;
  name: string;
}

interface FileKind {
  fileType: string;
  slug: string;
  extension: string;
  contentType: string;
}

export interface Product {
  id: string;
  name: string;
  kind: ProductKind;
  billing: Billing;
  cancellation: CancellationPolicy;
  deliverable: Deliverable;
  /** list price per unit in each currency, integer minor units */
  prices: Record<string, number>;
  /** the files an activation-key product can be downloaded as; null for products without downloads */
  downloads: DownloadOption[] | null;
}

/** Standard cancellation window of the source document: "within 60 days of the purchase date". */
export const STANDARD_WINDOW_DAYS = 60;
const standardWindow: CancellationPolicy = { mode: 'standard-window', windowDays: STANDARD_WINDOW_DAYS };

/** Illustrative price-list conversion from USD minor units: [numerator, denominator]. */
const USD_MINOR_TO: Record<string, [number, number]> = {
  USD: [1, 1],
  EUR: [92, 100],
  GBP: [79, 100],
  CAD: [136, 100],
  AUD: [152, 100],
  BRL: [500, 100],
  CHF: [88, 100],
  NZD: [165, 100],
  INR: [8300, 100],
  JPY: [150, 100],
};
export const PRICE_CURRENCIES = Object.keys(USD_MINOR_TO);

/** An amount in US cents in another price-list currency, at the price list's rate (rounded half up); null if it has none. */
export function fromUsdMinor(usdMinor: number, currency: string): number | null {
  const rate = USD_MINOR_TO[currency];
  return rate ? mulDiv(usdMinor, rate[0], rate[1]) : null;
}

function priceList(usdCents: number): Record<string, number> {
  const out: Record<string, number> = {};
  // The rates already fold in each currency's minor unit (JPY has none: cents -> yen).
  for (const [currency, [num, den]] of Object.entries(USD_MINOR_TO)) out[currency] = mulDiv(usdCents, num, den);
  return out;
}

const LANGUAGES: DownloadLanguage[] = [
  { code: 'en-us', name: 'English' },
  { code: 'de-de', name: 'German' },
  { code: 'fr-fr', name: 'French' },
  { code: 'ja-jp', name: 'Japanese' },
  { code: 'pt-br', name: 'Portuguese (Brazil)' },
];
const ISO: FileKind = { fileType: 'ISO (64-bit)', slug: 'x64', extension: 'iso', contentType: 'application/x-iso9660-image' };
const VHD: FileKind = { fileType: 'VHD (64-bit)', slug: 'x64', extension: 'vhd', contentType: 'application/octet-stream' };
const CAB: FileKind = { fileType: 'CAB (64-bit)', slug: 'x64', extension: 'cab', contentType: 'application/vnd.ms-cab-compressed' };

const slugOf = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/**
 * Every (version, language, file type) combination as an option. Sizes are modest on purpose (stand-in
 * images, quick to serve in tests), distinct per option and not a multiple of any block size.
 */
function downloadOptions(versions: string[], fileKinds: FileKind[], seed: number): DownloadOption[] {
  const out: DownloadOption[] = [];
  for (const version of versions) {
    for (const language of LANGUAGES) {
      for (const kind of fileKinds) {
        const i = out.length;
        const optionKey = `${slugOf(version)}.${language.code}.${kind.extension}-${kind.slug}`;
        out.push({
          optionKey,
          optionTitle: version,
          languageCode: language.code,
          languageName: language.name,
          fileType: kind.fileType,
          fileName: `${slugOf(version)}_${language.code}_${kind.slug}.${kind.extension}`,
          contentType: kind.contentType,
          sizeBytes: 196_608 + ((seed * 7 + i) % 23) * 12_289 + 1_531 * (i % 5),
        });
      }
    }
  }
  return out;
}

const windowsServerDownloads = downloadOptions(['Windows Server 2019', 'Windows Server 2016'], [ISO, VHD], 1);
const sqlServerDownloads = downloadOptions(['SQL Server 2019', 'SQL Server 2017'], [ISO, CAB], 2);

function product(p: Omit<Product, 'prices'> & { usdCents: number }): Product {
  const { usdCents, ...rest } = p;
  return { ...rest, prices: priceList(usdCents) };
}

export const CATALOG: readonly Product[] = [
  product({ id: 'azure-ri-vm-1y', name: 'Azure Reserved VM Instances (1 year)', kind: 'azure-reservation', billing: { type: 'subscription', termMonths: 12 }, cancellation: standardWindow, deliverable: 'azure-reservation', usdCents: 87_600, downloads: null }),
  product({ id: 'azure-ri-vm-3y', name: 'Azure Reserved VM Instances (3 years)', kind: 'azure-reservation', billing: { type: 'subscription', termMonths: 36 }, cancellation: standardWindow, deliverable: 'azure-reservation', usdCents: 189_200, downloads: null }),
  product({ id: 'windows-server-datacenter-sub', name: 'Windows Server Datacenter (1-year subscription)', kind: 'server-subscription', billing: { type: 'subscription', termMonths: 12 }, cancellation: standardWindow, deliverable: 'activation-key', usdCents: 201_400, downloads: windowsServerDownloads }),
  product({ id: 'windows-server-standard-sub', name: 'Windows Server Standard (1-year subscription)', kind: 'server-subscription', billing: { type: 'subscription', termMonths: 12 }, cancellation: standardWindow, deliverable: 'activation-key', usdCents: 36_500, downloads: windowsServerDownloads }),
  product({ id: 'sql-server-standard-sub', name: 'SQL Server Standard (1-year subscription)', kind: 'server-subscription', billing: { type: 'subscription', termMonths: 12 }, cancellation: standardWindow, deliverable: 'activation-key', usdCents: 180_200, downloads: sqlServerDownloads }),
  product({ id: 'sql-server-enterprise-sub', name: 'SQL Server Enterprise (1-year subscription)', kind: 'server-subscription', billing: { type: 'subscription', termMonths: 12 }, cancellation: standardWindow, deliverable: 'activation-key', usdCents: 690_500, downloads: sqlServerDownloads }),
  product({ id: 'windows-server-standard-perpetual', name: 'Windows Server 2019 Standard (perpetual licence)', kind: 'perpetual-software', billing: { type: 'perpetual' }, cancellation: standardWindow, deliverable: 'activation-key', usdCents: 97_200, downloads: windowsServerDownloads }),
  product({ id: 'sql-server-standard-perpetual', name: 'SQL Server 2019 Standard (perpetual licence)', kind: 'perpetual-software', billing: { type: 'perpetual' }, cancellation: standardWindow, deliverable: 'activation-key', usdCents: 389_900, downloads: sqlServerDownloads }),
  product({ id: 'windows-7-esu-2020', name: 'Windows 7 Extended Security Updates 2020', kind: 'extended-security-update', billing: { type: 'subscription', termMonths: 12 }, cancellation: { mode: 'support-request-only' }, deliverable: 'activation-key', usdCents: 6_100, downloads: null }),
  product({ id: 'suse-linux-enterprise-server-plan', name: 'SUSE Linux Enterprise Server software plan in Azure (1 year)', kind: 'linux-software-plan', billing: { type: 'subscription', termMonths: 12 }, cancellation: { mode: 'never' }, deliverable: 'software-plan', usdCents: 79_900, downloads: null }),
  product({ id: 'red-hat-enterprise-linux-plan', name: 'Red Hat Enterprise Linux software plan in Azure (1 year)', kind: 'linux-software-plan', billing: { type: 'subscription', termMonths: 12 }, cancellation: { mode: 'never' }, deliverable: 'software-plan', usdCents: 52_600, downloads: null }),
];

export function findCatalogProduct(id: string): Product | undefined {
  return CATALOG.find((p) => p.id === id);
}
