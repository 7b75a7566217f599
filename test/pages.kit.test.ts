/** The pages' wording of service refusals (pure: no servers). */
import { expect } from 'chai';
import { AppError } from '../lib/errors';
import { formatBytes, formatCount, formatDuration, formatHours, pageMessage, validateForm, zonedText } from '../api/pages/kit';
import { NAME_PATTERN, TEXT_PATTERN } from '../domain/text';

describe('pages: how a service refusal reads on a page', () => {
  const say = (message: string, field?: string) => pageMessage(new AppError(422, 'x', message, field));

  it('when the API message starts with its field path, then the page drops it (the message sits next to its field) and makes it a sentence', () => {
    expect(say('body.amount exceeds the amount requested (12200 USD)', 'body.amount')).to.equal('Exceeds the amount requested ($122.00).');
    expect(say('body.amount exceeds the amount requested (767.88 GBP)', 'body.amount')).to.equal('Exceeds the amount requested (£767.88).');
    expect(say('body.refund.amount exceeds what the order cost less credits already given (110960 AUD)')).to.equal('Exceeds what the order cost less credits already given (A$1,109.60).');
    expect(say('body.refund.amount exceeds what the order cost less credits already given (1109.60 AUD, 110960 in minor units)')).to.equal('Exceeds what the order cost less credits already given (A$1,109.60).');
    expect(say('query.to makes a range of 330 days (2026-01-01 to 2026-11-26); at most 90 at a time')).to.equal('Makes a range of 330 days (2026-01-01 to 2026-11-26); at most 90 at a time.');
    expect(say('body.orders[2].purchasedAt is in the future')).to.equal('Is in the future.');
    expect(say('body.orderId: this product can be neither cancelled nor refunded')).to.equal('This product can be neither cancelled nor refunded.');
  });

  it('when the message is already a sentence or names no field, then it is kept; a number without a currency stays as it is', () => {
    expect(say('Tick the box to confirm.')).to.equal('Tick the box to confirm.');
    expect(say('order 42 is already cancelled')).to.equal('Order 42 is already cancelled.');
    expect(say('the quantity (5000) is above the limit')).to.equal('The quantity (5000) is above the limit.');
  });

  it("when a further page's link carries a cursor these pages did not give out, then the page says so and where to start again", () => {
    expect(say('query.cursor is not a cursor this API gave out', 'query.cursor')).to.equal('This link to a further page is not one these pages gave out (changed, or cut off). Start again from the first page.');
  });
});

describe('pages: forms', () => {
  const schema = { type: 'object', additionalProperties: false, required: ['quantity'], properties: { quantity: { type: 'integer', minimum: 1, maximum: 10000 } } };
  it('when a whole number is written otherwise than in digits (hex, exponent, sign, decimals), then the field is refused; digits are read as the number', () => {
    for (const q of ['0x10', '1e3', '+5', '2.0', ' 0b1 ']) expect(validateForm(schema, { quantity: q }), q).to.deep.equal({ ok: false, errors: { quantity: 'Enter a whole number in digits, such as 2.' } });
    expect(validateForm(schema, { quantity: ' 12 ' })).to.deep.equal({ ok: true, value: { quantity: 12 } });
  });

  it('when a negative whole number is typed (the buy page\'s quantity), then it gets the same "at least 1" as 0, not "in digits" (QA: -2)', () => {
    for (const q of ['0', '-2', '-0', ' -10000 ']) expect(validateForm(schema, { quantity: q }), q).to.deep.equal({ ok: false, errors: { quantity: 'Enter a number of at least 1.' } });
    expect(validateForm(schema, { quantity: '--2' })).to.deep.equal({ ok: false, errors: { quantity: 'Enter a whole number in digits, such as 2.' } });
  });

  it('when a field comes twice (a query or form sent with it twice), then it is asked for once, not called the wrong type', () => {
    const text = { type: 'object', additionalProperties: false, properties: { from: { type: 'string', maxLength: 10 } } };
    expect(validateForm(text, { from: ['2026-11-28', '2026-11-27'] })).to.deep.equal({ ok: false, errors: { from: 'This field came more than once: give it once.' } });
  });
});

describe('pages: text rules in forms', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    required: ['title', 'contactName'],
    properties: {
      title: { type: 'string', minLength: 1, maxLength: 200, pattern: NAME_PATTERN, description: 'a title of up to 200 characters on one line' },
      contactName: { type: 'string', minLength: 1, maxLength: 200, pattern: NAME_PATTERN, description: 'a name on one line' },
      description: { type: 'string', maxLength: 20000, pattern: TEXT_PATTERN, description: 'a description' },
    },
  };
  it('when several fields break the text rules at once, then each is said at once, with what is wrong in it', () => {
    const r = validateForm(schema, { title: 'Refund \u202Edtl', contactName: '\u200B', description: 'Line one\u0007' });
    expect(r).to.deep.equal({
      ok: false,
      errors: {
        description: 'This field contains characters that are not allowed (control characters).',
        title: 'This field holds a text-direction character (U+202A to U+202E, U+2066 to U+2069), which can make it read as something else. Remove it.',
        contactName: 'Enter something visible: this holds only spaces or invisible characters.',
      },
    });
    expect(validateForm(schema, { title: 'Two\nlines', contactName: 'Pat' })).to.deep.equal({ ok: false, errors: { title: 'Keep this on one line: it holds a line break or a tab.' } });
    expect(validateForm(schema, { title: 'x'.repeat(201), contactName: 'Pat' })).to.deep.equal({ ok: false, errors: { title: 'Use at most 200 characters.' } });
  });
});

describe('pages: sizes and durations as people read them', () => {
  it('when a size or a time span is shown, then it is in the largest fitting unit', () => {
    expect([512, 368_654, 5_033_164_800].map(formatBytes)).to.deep.equal(['512 bytes', '360 KB', '4.7 GB']);
    expect([45, 720, 12_000, 187_200, 86_400].map(formatDuration)).to.deep.equal(['45 s', '12 min', '3 h 20 min', '2 d 4 h', '1 d']);
    // business hours: never in 24-hour days (80 business hours are ten working days, not "3 d 8 h")
    expect([45, 720, 12_000, 288_000, 86_400 + 90].map(formatHours)).to.deep.equal(['45 s', '12 min', '3 h 20 min', '80 h', '24 h 2 min']);
  });

  it('when a count is shown with its noun, then one is singular ("1 more day", not "1 more days")', () => {
    expect([0, 1, 2, 60].map((n) => formatCount(n, 'more day'))).to.deep.equal(['0 more days', '1 more day', '2 more days', '60 more days']);
  });
});

describe('pages: instants written in UTC read in the reader\'s time zone', () => {
  it('when a text names instants as "YYYY-MM-DD HH:MM:SS UTC", then each reads in the page\'s time zone, and the rest of the text is kept', () => {
    const text = 'download link for x.iso (Windows Server 2019, English, ISO), until 2026-12-12 10:00:00 UTC or 50 downloads; ended 2026-06-30 23:59:59 UTC';
    expect(zonedText(text, 'Australia/Sydney')).to.equal('download link for x.iso (Windows Server 2019, English, ISO), until 12 Dec 2026, 21:00 GMT+11 or 50 downloads; ended 1 Jul 2026, 09:59 GMT+10');
    expect(zonedText(text, 'UTC')).to.include('until 12 Dec 2026, 10:00 UTC');
    // what is not such an instant stays as it is
    expect(zonedText('order 2026-12-12 is 10:00:00 UTC-ish; 2026-13-45 10:00:00 UTC', 'Australia/Sydney')).to.equal('order 2026-12-12 is 10:00:00 UTC-ish; 2026-13-45 10:00:00 UTC');
  });
});
