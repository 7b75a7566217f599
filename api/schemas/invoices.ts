/** Schemas of invoices. */
import { MONTH_KEY_PATTERN } from '../../domain/time';
import { LEDGER_LINE_KINDS } from '../../domain/invoice';
import { dateTime, int, nullable, obj, str, taxSchema } from './common';

export const invoiceSchema = obj({
  partnerId: str(),
  month: str({ pattern: MONTH_KEY_PATTERN }),
  status: str({ enum: ['open', 'closed'], description: 'closed once the monthly schedule closed it' }),
  closedAt: nullable(dateTime),
  lines: {
    type: 'array',
    items: obj({ id: str(), kind: str({ enum: [...LEDGER_LINE_KINDS] }), orderId: str(), customerId: str(), customerName: str(), productName: str(), description: str(), at: dateTime, amount: int(), currency: str(), tax: taxSchema }),
  },
  totals: {
    type: 'array',
    items: obj({ currency: str(), charges: int(), credits: int(), net: int(), taxIncluded: int(), taxExcludedNet: int(), taxInclusive: { type: 'boolean', description: 'whether the prices of lines in this currency include tax (Australia, Brazil)' } }),
  },
});

