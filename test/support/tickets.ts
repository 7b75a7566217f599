/**
 * A support ticket as its workflow stores it, built directly (for tests that need many tickets in given states
 * without filing each one): numbered like real ones, every fifth escalated, every seventh at risk, every third
 * assigned, every seventeenth titled "needle ticket".
 */
import crypto from 'node:crypto';
import { CROCKFORD, GENERAL_PROBLEM_TYPE, IMPACTS, searchTextOf, type TicketStatus } from '../../domain/support';
import { queueKeyOf } from '../../domain/support-queue';
import type { SupportTicketDoc } from '../../models';

export function storedTicket(o: { i: number; partnerId: string; status: TicketStatus; nextDueAt: Date | null; updatedAt: Date; now: Date; extra?: Partial<SupportTicketDoc> }): SupportTicketDoc {
  const { i, partnerId, status, nextDueAt, updatedAt, now } = o;
  const number = `SR-${now.toISOString().slice(2, 10).replace(/-/g, '')}-${Array.from(crypto.randomBytes(6), (b) => CROCKFORD[b % 32]).join('')}`;
  const title = i % 17 === 0 ? `needle ticket ${i}` : `queue ticket ${i}`;
  const customer = { id: 'queue-customer', name: 'Queue Customer', tenantId: crypto.randomUUID(), domain: 'queue.onmicrosoft.com' };
  const contact = { name: 'Queue Contact', email: 'contact@queue.example', phone: null };
  const assignee = i % 3 === 0 ? { userId: 'agent-q', name: 'Quinn Agent', email: 'quinn@support.example', role: 'support-agent' } : null;
  return {
    _id: number,
    partnerId,
    problemType: GENERAL_PROBLEM_TYPE,
    impact: IMPACTS[i % IMPACTS.length],
    title,
    description: '',
    customer,
    orderId: null,
    subscriptionId: null,
    refund: null,
    contact,
    filedBy: { userId: 'queue', name: 'Queue', email: 'queue@partner.example', role: 'admin-agent' },
    status,
    assignee,
    assigneeId: assignee?.userId ?? null,
    escalationLevel: i % 5 === 0 ? 1 : 0,
    escalated: i % 5 === 0,
    atRisk: i % 7 === 0,
    breached: false,
    nextDueAt,
    queueKey: queueKeyOf(nextDueAt, number),
    clocks: [],
    approval: null,
    rejectionReason: null,
    withdrawn: false,
    searchText: searchTextOf({ number, title, description: '', customerName: customer.name, customerDomain: customer.domain, orderId: null, contactName: contact.name, contactEmail: contact.email }),
    seq: 2,
    createdAt: now,
    updatedAt,
    resolvedAt: null,
    closedAt: null,
    requestId: 'queue-test',
    ...o.extra,
  };
}
