/**
 * Mongoose models, one file per domain. The data rule (README, "Data design"): a document that changes has
 * one writer at a time (its entity's workflow, through activities); facts that many actors add are documents
 * of their own whose `_id` is a natural key, so a retry or a race inserts them once (E11000 for the loser).
 */
import { Partner, User, ApiToken, ApiTokenRevocation, TokenFormUse } from './identity';
import { Customer } from './customers';
import { Product } from './catalog';
import { IdempotencyRecord, Order, OrderEvent } from './orders';
import { ActivationKey, DownloadClaim, DownloadLink, DownloadLinkRequest, DownloadResume } from './licensing';
import { ActivityDay, ActivityEntry } from './activity-log';
import { LedgerLine, Invoice, InvoiceClose } from './invoices';
import { EmailRecord } from './emails';
import { SignInLink, SignInClaim, SignInSend, Session, SessionEnd, UserPreference, UserBrowserZone } from './sessions';
import { SupportTicket, SupportEvent, SupportOrderClaim, SupportIdempotency, SupportTicketNumber, SupportQueueEntry, SupportQueueDay, SupportFilingSlot } from './support';
import { Attachment } from './attachments';

export * from './identity';
export * from './customers';
export * from './catalog';
export * from './orders';
export * from './licensing';
export * from './activity-log';
export * from './invoices';
export * from './emails';
export * from './sessions';
export * from './support';
export * from './attachments';

/** Every model, for index creation at start-up. */
export const models = { Partner, User, ApiToken, ApiTokenRevocation, TokenFormUse, Customer, Product, IdempotencyRecord, Order, OrderEvent, ActivationKey, DownloadLink, DownloadLinkRequest, DownloadClaim, DownloadResume, ActivityEntry, ActivityDay, LedgerLine, Invoice, InvoiceClose, EmailRecord, SupportTicket, SupportEvent, SupportOrderClaim, SupportIdempotency, SupportTicketNumber, SupportQueueEntry, SupportQueueDay, SupportFilingSlot, Attachment, SignInLink, SignInClaim, SignInSend, Session, SessionEnd, UserPreference, UserBrowserZone };
