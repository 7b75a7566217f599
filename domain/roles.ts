/** Roles of the people who use csp-desk, as the source document names them. */
export const PARTNER_ROLES = [
  'admin-agent',
  'sales-agent',
  'global-admin',
  'account-admin',
  'referral-admin',
  'marketing-content-admin',
] as const;
export const SUPPORT_ROLES = ['support-agent', 'support-lead'] as const;
export const ROLES = [...PARTNER_ROLES, ...SUPPORT_ROLES] as const;

export type PartnerRole = (typeof PARTNER_ROLES)[number];
export type SupportRole = (typeof SUPPORT_ROLES)[number];
export type Role = (typeof ROLES)[number];

/** Support staff (csp-desk's own agents and leads, not a partner's users): partners never see their addresses. */
export function isSupportRole(role: string): boolean {
  return (SUPPORT_ROLES as readonly string[]).includes(role);
}

export function isPartnerRole(role: string): role is PartnerRole {
  return (PARTNER_ROLES as readonly string[]).includes(role);
}

/**
 * Why a user of role `from` may not be given role `to`, or null. A role of the other side (a partner's, or the support
 * organisation's) is another person's job, with another partner or none: a user of its own.
 */
export function roleChangeRefusal(from: string, to: string, partnerId: string | null): string | null {
  if (!(ROLES as readonly string[]).includes(to)) return `unknown role ${to}; one of: ${ROLES.join(', ')}`;
  if (isPartnerRole(from) === isPartnerRole(to)) return null;
  const now = isPartnerRole(from) ? `a role of partner ${partnerId}` : 'a support role';
  return `is ${from}, ${now}; ${to} is ${isPartnerRole(to) ? "a partner's role" : 'a support role'}: that needs a user of its own (npm run users -- create)`;
}

/** Who may do what. Routes declare one of these; the document's "Appropriate roles" notes are the source. */
export const PERMISSIONS = {
  /** read the product catalog */
  readCatalog: [...PARTNER_ROLES, ...SUPPORT_ROLES],
  /** add a customer to the partner */
  manageCustomers: ['admin-agent', 'sales-agent', 'global-admin'],
  /** see customers, their orders and order history */
  readCustomers: ['admin-agent', 'sales-agent', 'global-admin', 'account-admin'],
  /**
   * buy software subscriptions on behalf of a customer: the document's "Appropriate roles" (Admin agent, Global
   * admin), and the Sales agent, whose job in Partner Center is placing customers' orders
   */
  placeOrders: ['admin-agent', 'sales-agent', 'global-admin'],
  /** bring in purchases made before csp-desk */
  importOrders: ['global-admin'],
  /** see a customer's software and its activation keys ("You must be an Admin agent to ... get activation keys") */
  readSoftware: ['admin-agent'],
  /** "Get keys and downloads": an order's activation key and a download link ("You must be an Admin agent to download software and get activation keys") */
  getKeysAndDownloads: ['admin-agent'],
  /** the activity log of key access and downloads ("You must be a Global administrator, Account admin, Referral admin, or Marketing content admin") */
  readActivityLog: ['global-admin', 'account-admin', 'referral-admin', 'marketing-content-admin'],
  /** see whether an order can be cancelled */
  previewCancellation: ['admin-agent', 'sales-agent', 'global-admin'],
  /** cancel a purchase ("You must be an Admin agent to cancel a purchase") */
  cancelOrders: ['admin-agent'],
  /** read the partner's monthly invoices */
  readInvoices: ['global-admin', 'account-admin', 'admin-agent'],
  /** list, create and revoke one's own API tokens (every role) */
  manageOwnTokens: [...ROLES],
  /** file a customer support request (the document's "Submit a customer support request": Admin agent, Global admin) */
  fileSupportRequests: ['admin-agent', 'global-admin'],
  /** see support requests (partners: their own partner's; support: all), reply to them */
  readSupportRequests: ['admin-agent', 'global-admin', 'support-agent', 'support-lead'],
  /** withdraw the partner's own support request */
  withdrawSupportRequests: ['admin-agent', 'global-admin'],
  /** work the support queue: assign, request information, approve, reject, escalate, resolve, close */
  workSupportRequests: ['support-agent', 'support-lead'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;
