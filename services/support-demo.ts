/**
 * Demo support requests for `npm start`, so the queue is not empty: an ESU refund waiting for an agent, a
 * request waiting on the partner, and an escalated one. Everything goes through the same services the API
 * uses, so through the orders' and tickets' workflows (never a document written behind a workflow's back),
 * and idempotently: the order and the tickets are placed and filed under fixed Idempotency-Keys, and each
 * agent action is taken only while the ticket is still in the state before it, under a fixed Update id (a
 * repeated Update with the same id is carried out once by Temporal). Run it again: nothing new happens.
 *
 * It needs the worker running (filing answers once the ticket's workflow has recorded the ticket), so
 * `npm start` runs it (dist/bin/seed-tickets.js) after the worker and the API are up.
 */
import type { Client } from '@temporalio/client';
import { runInRequestContext } from '../lib/request-context';
import { SUPPORT_REQUEST_PROBLEM_TYPE } from '../domain/cancellation';
import { GENERAL_PROBLEM_TYPE } from '../domain/support';
import { User, type UserDoc } from '../models';
import type { AuthContext } from './context';
import { createOrderService } from './orders';
import { DEFAULT_SUPPORT_SETTINGS, createSupportService, type SupportSettings } from './support';

export interface SupportDemoDeps {
  client: Client;
  taskQueue: string;
  settings?: SupportSettings;
  reminderDaysBeforeClose: number;
  partnerId: string;
  /** the customer (domain name) the demo requests are about */
  customer: string;
  /** emails of the demo users who act */
  users: { partnerAdmin: string; agent: string; lead: string };
  requestId?: string;
}

export interface DemoTicket {
  what: string;
  number: string;
  status: string;
  escalationLevel: number;
}

async function authOf(email: string): Promise<AuthContext> {
  const user = await User.findOne({ email: email.toLowerCase() }).lean<UserDoc>();
  if (!user) throw new Error(`demo user ${email} does not exist: run the seed first (dist/bin/seed.js)`);
  return { user, role: user.role, partnerId: user.partnerId, tokenId: 'demo-seed' };
}

export async function seedSupportDemo(deps: SupportDemoDeps): Promise<DemoTicket[]> {
  const requestId = deps.requestId ?? 'demo-seed';
  // the request id the services hand on to the workflows they start
  return runInRequestContext({ requestId }, () => seed(deps));
}

async function seed(deps: SupportDemoDeps): Promise<DemoTicket[]> {
  // the demo is the operator's doing, not a user's filing: the hourly filing limit does not apply (nor count it)
  const support = createSupportService({ client: deps.client, taskQueue: deps.taskQueue, settings: { ...(deps.settings ?? DEFAULT_SUPPORT_SETTINGS), filingsPerHour: null } });
  const orders = createOrderService({ client: deps.client, taskQueue: deps.taskQueue, reminderDaysBeforeClose: deps.reminderDaysBeforeClose });
  const [partner, agent, lead] = [await authOf(deps.users.partnerAdmin), await authOf(deps.users.agent), await authOf(deps.users.lead)];
  if (partner.partnerId !== deps.partnerId) throw new Error(`${deps.users.partnerAdmin} is not a user of partner ${deps.partnerId}`);
  const contact = { name: partner.user.name, email: partner.user.email, phone: '+1 425 555 0100' };
  const out: DemoTicket[] = [];
  const note = (what: string, t: { number: string; status: string; escalationLevel: number }) => out.push({ what, number: t.number, status: t.status, escalationLevel: t.escalationLevel });

  // 1. An ESU refund waiting for an agent: the only way a Windows 7 ESU 2020 purchase is cancelled.
  const { order } = await orders.place(partner, deps.customer, { productId: 'windows-7-esu-2020', quantity: 5 }, 'demo-support-esu-order');
  const esu = await support.file(
    partner,
    {
      problemType: SUPPORT_REQUEST_PROBLEM_TYPE,
      impact: 'moderate',
      title: 'Refund: Windows 7 ESU 2020 bought for the wrong customer',
      customer: deps.customer,
      orderId: order.id,
      refund: { reason: 'Bought for the wrong customer; the keys were never used.', amount: order.pricing.total, currency: order.pricing.currency },
      contact,
      description: 'We placed this Extended Security Updates order for the wrong tenant the same day. Please cancel it and credit the full amount.',
    },
    'demo-support-esu-refund',
  );
  note('ESU refund waiting for an agent', esu.ticket);

  // 2. Waiting on the partner: assigned, then more information requested.
  const pendingFiled = await support.file(
    partner,
    {
      problemType: GENERAL_PROBLEM_TYPE,
      impact: 'minimal',
      title: 'Activation key for Windows Server 2022 Standard is refused',
      customer: deps.customer,
      contact,
      description: 'The customer reports error 0xC004F050 when entering the key from the software list.',
    },
    'demo-support-pending',
  );
  let pending = pendingFiled.ticket;
  if (pending.status === 'new') pending = (await support.assign(agent, pending.number, undefined, undefined, `demo:${pending.number}:assign`)).ticket;
  if (pending.status === 'open') {
    pending = (await support.act(agent, pending.number, 'request-information', { body: 'Could you send a screenshot of the error and the edition installed (winver)?' }, `demo:${pending.number}:request-information`)).ticket;
  }
  note('waiting on the partner', pending);

  // 3. Escalated: a critical request, assigned to the agent by the lead and escalated by hand.
  const escalatedFiled = await support.file(
    partner,
    {
      problemType: GENERAL_PROBLEM_TYPE,
      impact: 'critical',
      title: 'Customer cannot download SQL Server 2022 media: every link answers 403',
      customer: deps.customer,
      contact,
      description: 'Production upgrade window tonight; all download links in the software list fail.',
    },
    'demo-support-escalated',
  );
  let escalated = escalatedFiled.ticket;
  if (escalated.status === 'new') escalated = (await support.assign(lead, escalated.number, agent.user._id, undefined, `demo:${escalated.number}:assign`)).ticket;
  if (escalated.escalationLevel === 0 && escalated.status !== 'closed') {
    escalated = (await support.act(lead, escalated.number, 'escalate', { reason: 'Production outage tonight for a top customer.' }, `demo:${escalated.number}:escalate`)).ticket;
  }
  note('escalated', escalated);
  return out;
}
