import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { COUNTRIES, countryName, isMarketCode } from '../domain/countries';
import { checkMarket } from '../domain/pricing';
import {
  AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES,
  AZURE_RESERVATION_UNAVAILABLE_MARKETS,
  CURRENCY_MINOR_DIGITS,
  EURO_AREA_MEMBERS,
  MARKET_CURRENCY,
  MARKET_NAME_TO_CODE,
  TAX_INCLUSIVE_MARKETS,
  azureReservationsAvailableIn,
  currencyForMarket,
  minorDigits,
  taxTreatmentFor,
  unavailableMarketNames,
} from '../domain/markets';

const SPEC = 'sell-software-subscriptions-through-csp.en.md';

/** The specification, where it can be found (shared/ beside the repository, or /work/shared); null otherwise. */
function readSpec(): string | null {
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', 'shared', 'seed', SPEC), // dist/test -> <repo>/../shared
    path.resolve(process.cwd(), '..', 'shared', 'seed', SPEC),
    path.join('/work/shared/seed', SPEC),
  ];
  for (const file of candidates) if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  return null;
}

/** The names of the "Unavailable markets" table of the document. */
function tableNames(doc: string): string[] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => /^>\s*\|\s*Unavailable markets\s*\|/.test(l));
  if (start < 0) throw new Error('table "Unavailable markets" not found in the document');
  const names: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!/^>\s*\|/.test(line)) break;
    for (const cell of line.replace(/^>\s*\|/, '').split('|')) {
      const name = cell.trim();
      if (name) names.push(name);
    }
  }
  return names;
}

describe('domain/countries', () => {
  it('has the 249 officially assigned ISO 3166-1 alpha-2 codes plus XK', () => {
    const codes = Object.keys(COUNTRIES);
    expect(codes).to.have.length(250);
    for (const code of codes) expect(code).to.match(/^[A-Z]{2}$/);
    expect(COUNTRIES.XK).to.equal('Kosovo');
    expect(COUNTRIES.US).to.equal('United States');
    expect(COUNTRIES.BQ).to.equal('Bonaire, Sint Eustatius and Saba');
    // codes that are reserved or withdrawn, not assigned
    for (const code of ['UK', 'EU', 'AN', 'YU', 'ZZ']) expect(isMarketCode(code), code).to.equal(false);
  });

  it('isMarketCode wants an exact upper-case code; countryName names it or throws', () => {
    expect(isMarketCode('DE')).to.equal(true);
    expect(isMarketCode('de')).to.equal(false);
    expect(isMarketCode('DEU')).to.equal(false);
    expect(isMarketCode('')).to.equal(false);
    expect(isMarketCode('toString')).to.equal(false);
    expect(countryName('AX')).to.equal('Åland Islands');
    expect(() => countryName('QQ')).to.throw(RangeError, /QQ/);
  });
});

describe('domain/markets: Azure reservations unavailable markets', () => {
  it('lists the 109 names of the document table (35 rows of 3, 2 rows of 2), each once', () => {
    expect(AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES).to.have.length(109);
    expect(new Set(AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES).size).to.equal(109);
    for (const name of ['Swaziland', 'Congo (DRC)', 'St Helena, Ascension, Tristan da Cunha', 'U.S. Outlying Islands',
      'Jan Mayen', 'Saba', 'Sint Eustatius', 'Bonaire', 'Åland Islands', 'São Tomé and Príncipe', 'Saint Barthélemy']) {
      expect(AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES, name).to.include(name);
    }
  });

  it('has exactly the names of the document table, where the document is at hand', function () {
    const doc = readSpec();
    if (doc === null) this.skip();
    const names = tableNames(doc!);
    expect(names).to.have.length(109);
    expect([...AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES].sort()).to.deep.equal([...names].sort());
  });

  it('maps every name, and only those, to a valid market code', () => {
    expect(Object.keys(MARKET_NAME_TO_CODE).sort()).to.deep.equal([...AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES].sort());
    for (const name of AZURE_RESERVATION_UNAVAILABLE_MARKET_NAMES) {
      const code = MARKET_NAME_TO_CODE[name];
      expect(isMarketCode(code), `${name} -> ${code}`).to.equal(true);
    }
  });

  it('maps names to the expected codes, shared codes included', () => {
    const expected: Record<string, string> = {
      Bonaire: 'BQ', Saba: 'BQ', 'Sint Eustatius': 'BQ',
      Svalbard: 'SJ', 'Jan Mayen': 'SJ',
      Kosovo: 'XK', Swaziland: 'SZ', Congo: 'CG', 'Congo (DRC)': 'CD',
      'U.S. Outlying Islands': 'UM', 'St Helena, Ascension, Tristan da Cunha': 'SH',
      'Sint Maarten': 'SX', 'Saint Martin': 'MF', 'Vatican City': 'VA', Micronesia: 'FM', Laos: 'LA',
      'British Virgin Islands': 'VG', 'Pitcairn Islands': 'PN', Reunion: 'RE', 'São Tomé and Príncipe': 'ST',
      'Falkland Islands': 'FK', 'South Georgia and South Sandwich Islands': 'GS', China: 'CN', Samoa: 'WS',
      'American Samoa': 'AS', Niger: 'NE', Guinea: 'GN', 'Equatorial Guinea': 'GQ', 'Guinea-Bissau': 'GW',
    };
    for (const [name, code] of Object.entries(expected)) expect(MARKET_NAME_TO_CODE[name], name).to.equal(code);
  });

  it('has 106 distinct codes (BQ for three names, SJ for two)', () => {
    expect(AZURE_RESERVATION_UNAVAILABLE_MARKETS.size).to.equal(106);
    expect(unavailableMarketNames('BQ')).to.deep.equal(['Bonaire', 'Saba', 'Sint Eustatius']);
    expect(unavailableMarketNames('SJ')).to.deep.equal(['Jan Mayen', 'Svalbard']);
    expect(unavailableMarketNames('sz')).to.deep.equal(['Swaziland']);
    expect(unavailableMarketNames('US')).to.deep.equal([]);
    // the refusal names the country as the customer's record does, not as the list does
    const reservation = { kind: 'azure-reservation' as const, name: 'Azure Reserved VM Instances (1 year)' };
    expect(checkMarket(reservation, 'SZ')?.message).to.equal('Azure reservations are not available in the market SZ (Eswatini): Azure Reserved VM Instances (1 year) cannot be sold there');
    expect(checkMarket(reservation, 'BQ')?.message).to.include('market BQ (Bonaire, Sint Eustatius and Saba)');
    expect(checkMarket(reservation, 'US')).to.equal(null);
  });

  it('when a market code comes in another letter case, then checkMarket takes it as the market (review: a RangeError); one that is no market is refused naming it', () => {
    const reservation = { kind: 'azure-reservation' as const, name: 'Azure Reserved VM Instances (1 year)' };
    expect(checkMarket(reservation, 'sz')).to.deep.equal(checkMarket(reservation, 'SZ'));
    expect(checkMarket(reservation, 'sz')?.message).to.include('market SZ (Eswatini)');
    expect(checkMarket(reservation, 'us')).to.equal(null);
    expect(checkMarket(reservation, 'zz')).to.deep.equal({ code: 'market_unavailable', message: 'Azure reservations are not available in the market "zz", which is not a market code: Azure Reserved VM Instances (1 year) cannot be sold there' });
    expect(checkMarket({ kind: 'server-subscription', name: 'Windows Server Standard' }, 'sz')).to.equal(null);
  });

  it('sells reservations in the other markets', () => {
    for (const code of ['US', 'DE', 'AU', 'BR', 'JP', 'GB', 'FR', 'CA', 'IN', 'NL']) {
      expect(AZURE_RESERVATION_UNAVAILABLE_MARKETS.has(code), code).to.equal(false);
      expect(azureReservationsAvailableIn(code), code).to.equal(true);
    }
    for (const code of ['BQ', 'SJ', 'XK', 'SZ', 'CN', 'CD', 'CG', 'UM', 'SH', 'AX', 'YE']) {
      expect(AZURE_RESERVATION_UNAVAILABLE_MARKETS.has(code), code).to.equal(true);
      expect(azureReservationsAvailableIn(code), code).to.equal(false);
    }
    expect(azureReservationsAvailableIn('us')).to.equal(true);
    expect(azureReservationsAvailableIn('ZZ')).to.equal(false);
    // 250 market codes, 106 without reservations
    const available = Object.keys(COUNTRIES).filter(azureReservationsAvailableIn);
    expect(available).to.have.length(144);
  });
});

describe('domain/markets: tax', () => {
  it('prices include tax in Australia and Brazil only', () => {
    expect(Object.keys(TAX_INCLUSIVE_MARKETS).sort()).to.deep.equal(['AU', 'BR']);
    expect(taxTreatmentFor('AU')).to.deep.equal({ inclusive: true, rateBps: 1000 });
    expect(taxTreatmentFor('BR')).to.deep.equal({ inclusive: true, rateBps: 1425 });
    expect(taxTreatmentFor('au').inclusive).to.equal(true);
    for (const code of ['US', 'DE', 'GB', 'JP', 'NZ', 'XK']) {
      expect(taxTreatmentFor(code), code).to.deep.equal({ inclusive: false, rateBps: null });
    }
  });
});

describe('domain/markets: currency', () => {
  it('bills in the local currency of the main markets', () => {
    const expected: Record<string, string> = {
      US: 'USD', CA: 'CAD', GB: 'GBP', AU: 'AUD', BR: 'BRL', JP: 'JPY', IN: 'INR', CH: 'CHF', NZ: 'NZD',
    };
    for (const [code, currency] of Object.entries(expected)) expect(currencyForMarket(code), code).to.equal(currency);
    expect(currencyForMarket('jp')).to.equal('JPY');
  });

  it('bills in EUR in the euro area', () => {
    expect(EURO_AREA_MEMBERS).to.have.length(21);
    for (const code of ['DE', 'FR', 'IT', 'ES', 'NL', 'BE', 'AT', 'IE', 'PT', 'FI', 'GR', 'HR', 'BG', 'SK', 'SI', 'LU', 'MT', 'CY', 'EE', 'LV', 'LT']) {
      expect(currencyForMarket(code), code).to.equal('EUR');
    }
  });

  it('bills in USD everywhere else', () => {
    for (const code of ['MX', 'SE', 'DK', 'PL', 'ZA', 'SG', 'KR', 'CN', 'BQ', 'UM', 'AR']) {
      expect(currencyForMarket(code), code).to.equal('USD');
    }
    for (const code of Object.keys(MARKET_CURRENCY)) expect(isMarketCode(code), code).to.equal(true);
  });

  it('knows the minor-unit digits: JPY 0, others 2', () => {
    expect(minorDigits('JPY')).to.equal(0);
    for (const c of ['USD', 'EUR', 'GBP', 'AUD', 'BRL', 'CAD', 'INR', 'CHF', 'NZD', 'SEK']) expect(minorDigits(c), c).to.equal(2);
    for (const currency of new Set(Object.values(MARKET_CURRENCY))) {
      expect(CURRENCY_MINOR_DIGITS, currency).to.have.property(currency);
    }
  });
});
