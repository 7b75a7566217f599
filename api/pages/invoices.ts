/** The monthly invoice: charges and credits per currency, printable. */
import { AppError } from '../../lib/errors';
import { billedPartnerName, findInvoice, firstInvoiceMonth, openInvoiceMonth } from '../../services/invoices';
import { MONTH_KEY_PATTERN, monthKey, monthName, nextMonthKey, previousMonthKey } from '../../domain/time';
import { definePage, type PageDef } from './kit';
import type { PagesContext } from './index';

const monthRe = new RegExp(MONTH_KEY_PATTERN);

export function invoicePages(deps: PagesContext): PageDef[] {
  return [
    definePage({
      method: 'get',
      path: '/invoices',
      permission: 'readInvoices',
      handler: async (ctx) => {
        // the month that takes what happens now (the next one once this one was closed early)
        const month = typeof ctx.req.query.month === 'string' && monthRe.test(ctx.req.query.month) ? ctx.req.query.month : await openInvoiceMonth(ctx.auth.partnerId!, deps.now?.() ?? new Date());
        ctx.redirect(`/app/invoices/${month}`);
      },
    }),
    definePage({
      method: 'get',
      path: '/invoices/:month',
      permission: 'readInvoices',
      handler: async (ctx) => {
        const month = String(ctx.req.params.month);
        if (!monthRe.test(month)) throw new AppError(400, 'validation_failed', `path.month ${JSON.stringify(month)} must be a month like 2026-11`, 'path.month');
        const now = deps.now?.() ?? new Date();
        const name = monthName(month);
        // the months around it, from the partner's first to the open one (this month, or the next once this one was
        // closed early: none has an invoice outside them)
        const current = await openInvoiceMonth(ctx.auth.partnerId!, now);
        const first = await firstInvoiceMonth(ctx.auth.partnerId!, now);
        // a month outside them (typed in the address) links back into them: its neighbour when that is inside, else
        // the nearest end (after the open month: back to it; before the first: on to it)
        const previous = month > current ? current : month > first ? previousMonthKey(month) : null;
        const next = month < first ? first : month < current ? nextMonthKey(month) : null;
        const nav = { monthName: name, previous, next, current, earlyOpen: current > monthKey(now) && month === current };
        const found = await findInvoice(ctx.auth.partnerId!, month, now);
        if ('none' in found) return ctx.view('invoices/show', { title: `Invoice ${name}`, ...nav, none: `No invoice: ${found.none}.` }, 404);
        const { invoice } = found;
        const partnerName = await billedPartnerName(ctx.auth.partnerId!);
        ctx.view('invoices/show', {
          title: `Invoice ${name}`,
          invoice,
          charges: invoice.lines.filter((l) => l.kind === 'charge'),
          credits: invoice.lines.filter((l) => l.kind === 'credit'),
          partnerName,
          ...nav,
        });
      },
    }),
  ];
}
