/**
 * The support domain's contract, shared by the API and the ticket workflow: the workflow id, the ticket's
 * input, its commands (one Update, validated by the domain's action table before anything is recorded),
 * the state it answers with, and the email kinds.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Impact, SupportEventType, TicketAction, TicketActor, TicketStatus, TicketRules } from '../domain/support';
import type { SlaClock, SlaPolicy } from '../domain/sla';

/** One workflow per ticket: `support:<number>`. */
export const supportWorkflowId = (ticketNumber: string): string => `support:${ticketNumber}`;

/** Everything the ticket's workflow needs, decided once by the API at filing. */
export interface SupportTicketInput {
  number: string;
  partnerId: string;
  problemType: string;
  impact: Impact;
  title: string;
  description: string;
  customer: { id: string; name: string; tenantId: string; domain: string };
  orderId: string | null;
  /** the order's id before csp-desk, when it was imported (absent in tickets filed before it was kept) */
  originalOrderId?: string | null;
  subscriptionId: string | null;
  refund: { reason: string; amount: number; currency: string } | null;
  contact: { name: string; email: string; phone: string | null };
  filedBy: TicketActor;
  /** ISO instant */
  filedAt: string;
  requestId: string;
  /** the SLA policy and rules in force at filing: they travel with the ticket */
  policy: SlaPolicy;
  rules: TicketRules;
}

/** A command on a ticket. Fields beyond `action` and `actor` as the action needs them. */
/** An attachment as its timeline event records it (the bytes stay in GridFS). */
export interface SupportAttachmentFact {
  /** the attachment's slot on its ticket (1..limit), its id in the API */
  id: number;
  name: string;
  contentType: string;
  size: number;
  sha256: string;
}

export interface SupportCommand {
  action: TicketAction;
  actor: TicketActor;
  /** reply, note, request-information, partner-reply; optional on the others */
  body?: string;
  /** assign */
  assignee?: TicketActor;
  /** approve: minor units of the order's currency (default: the requested amount) */
  amount?: number;
  /** reject, escalate */
  reason?: string;
  /** attach: the file already stored (services/attachments.ts), put on the timeline */
  attachment?: SupportAttachmentFact;
  /** the request that carried the command (for logs) */
  requestId?: string;
  /**
   * The last timeline entry the actor saw: refused (`ticket_changed`) when someone else added one they would see
   * after it (domain/support.ts changedSince). Unset: not checked.
   */
  seenSeq?: number;
}

export interface SupportTicketState {
  number: string;
  status: TicketStatus;
  assignee: { userId: string; name: string; email: string; role: string } | null;
  escalationLevel: number;
  atRisk: boolean;
  breached: boolean;
  clocks: SlaClock[];
  /** earliest due instant of the running clocks (ISO) */
  nextDueAt: string | null;
  /** the last event's sequence number */
  seq: number;
  refunded: boolean;
  approval: { amount: number; currency: string; invoiceMonth: string; at: string } | null;
  /** ISO instant the ticket was resolved, approved or rejected (null while active) */
  doneAt: string | null;
}

/** Answers once the ticket is recorded (update-with-start at filing). */
export const supportRecordedUpdate = defineUpdate<SupportTicketState, []>('supportRecorded');
/** Every agent and partner action; refused by its validator (failure type = the domain's refusal code). */
export const supportCommandUpdate = defineUpdate<SupportTicketState, [SupportCommand]>('supportCommand');
export const supportStateQuery = defineQuery<SupportTicketState>('supportState');

/** Emails of a ticket, each sent once per event. */
export const SUPPORT_EMAIL_KINDS = ['received', 'information-needed', 'reply', 'approved', 'rejected', 'escalated', 'at-risk', 'breached', 'resolved', 'closed', 'assigned', 'partner-replied', 'unassigned'] as const;
export type SupportEmailKind = (typeof SUPPORT_EMAIL_KINDS)[number];
/** The emails of a ticket that go to support staff (agents, leads); the others go to the partner. */
export const SUPPORT_STAFF_EMAILS: ReadonlySet<SupportEmailKind> = new Set<SupportEmailKind>(['escalated', 'at-risk', 'breached', 'assigned', 'partner-replied', 'unassigned']);

/** A ticket event as the workflow decides it; the activity adds ids and the document. */
export interface SupportEventInput {
  seq: number;
  type: SupportEventType;
  at: string;
  actor: TicketActor;
  public: boolean;
  body: string | null;
  data: Record<string, unknown>;
}

/** The ticket document's changing fields, as the workflow knows them. */
export interface SupportTicketSnapshot {
  status: TicketStatus;
  assignee: { userId: string; name: string; email: string; role: string } | null;
  escalationLevel: number;
  atRisk: boolean;
  breached: boolean;
  nextDueAt: string | null;
  clocks: SlaClock[];
  approval: { amount: number; currency: string; invoiceMonth: string; at: string; by: { userId: string; name: string; email: string; role: string } } | null;
  rejectionReason: string | null;
  withdrawn: boolean;
  seq: number;
  updatedAt: string;
  resolvedAt: string | null;
  closedAt: string | null;
}
