/** Order pages: an order with its timeline and cancellation status (days left, estimated credit), and cancelling it. */
import { servesSoftware } from '../../domain/licensing';
import { AppError } from '../../lib/errors';
import { definePage, errorsFromAppError, may, validatePostedForm, type FieldErrors, type PageContext, type PageDef } from './kit';
import type { PagesContext } from './index';

const cancelSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['customer', 'productName', 'acknowledged'],
  properties: {
    customer: { type: 'string', minLength: 1, maxLength: 253 },
    productName: { type: 'string', minLength: 1, maxLength: 200 },
    acknowledged: { const: 'yes' },
  },
};

const EVENT_LABELS: Record<string, string> = {
  placed: 'Order placed',
  imported: 'Order imported',
  'payment-recorded': 'Payment recorded (charge on the invoice)',
  'payment-imported': 'Payment recorded before csp-desk',
  provisioned: 'Provisioned',
  'email-sent': 'Email sent',
  'email-refused': 'Email refused by the mail server (check the address)',
  'cancellation-window-closed': 'Cancellation window closed',
  'keys-and-links-revoked': 'Keys and download links revoked',
  'credit-recorded': 'Credit recorded',
  cancelled: 'Cancelled',
  'term-ended': 'Term ended',
};

export function orderPages(deps: PagesContext): PageDef[] {
  const { orders } = deps;

  const orderPage = async (ctx: PageContext, id: string, extra: { errors?: FieldErrors } & Record<string, unknown> = {}, status = 200) => {
    const order = await orders.view(ctx.auth.partnerId!, id);
    const cancellation = may(ctx.auth.role, ctx.auth.partnerId, 'previewCancellation') ? await orders.cancellation(ctx.auth, id) : null;
    const events = (order as { timeline?: { type: string; at: string; data: Record<string, unknown> }[] }).timeline ?? [];
    const timeline = events.map((e) => ({ ...e, label: EVENT_LABELS[e.type] ?? e.type.replace(/[-_]/g, ' '), kind: typeof e.data.kind === 'string' ? e.data.kind : null }));
    const creditLine = order.cancellation?.credit ?? null;
    // a refund request already holds the order: the page links to it instead of offering another
    const refundRequest = deps.support && order.status !== 'cancelled' ? await deps.support.refundRequestOf(ctx.auth, order.id) : null;
    ctx.view(
      'orders/show',
      {
        title: `${order.product.name} for ${order.customer.name}`,
        order,
        timeline,
        cancellation,
        creditLine,
        refundRequest,
        // keys and links stop at the term's end to the second, whether or not the order's workflow has recorded it yet
        servesSoftware: servesSoftware({ status: order.status, termEndsAt: order.termEndsAt ? new Date(order.termEndsAt) : null }, deps.now?.() ?? new Date()),
        placed: ctx.req.query.placed === '1',
        justCancelled: ctx.req.query.cancelled === '1',
        ...extra,
      },
      status,
    );
  };

  return [
    definePage({
      method: 'get',
      path: '/orders/:id',
      permission: 'readCustomers',
      handler: (ctx) => orderPage(ctx, String(ctx.req.params.id)),
    }),
    definePage({
      method: 'post',
      path: '/orders/:id/cancel',
      permission: 'cancelOrders',
      handler: async (ctx) => {
        const id = String(ctx.req.params.id);
        const form = validatePostedForm<{ customer: string; productName: string }>(cancelSchema, (ctx.req.body ?? {}) as Record<string, unknown>);
        if (!form.ok) {
          const errors = { ...form.errors };
          if (errors.acknowledged) errors.acknowledged = 'Tick the box to confirm you have read the notice.';
          return orderPage(ctx, id, { errors }, 400);
        }
        try {
          await orders.cancel(ctx.auth, id, { customer: form.value.customer, productName: form.value.productName, acknowledged: true });
        } catch (e) {
          if (e instanceof AppError && e.status !== 404 && e.status < 500) return orderPage(ctx, id, { errors: errorsFromAppError(e, []) }, e.status);
          throw e;
        }
        ctx.redirect(`/app/orders/${encodeURIComponent(id)}?cancelled=1`);
      },
    }),
  ];
}
