/** A partner's customers, named by id, name, tenant GUID or domain name alike. */
import crypto from 'node:crypto';
import { AppError, isDuplicateKey, notFound } from '../lib/errors';
import { after, decodeCursor, encodeCursor, readPage, type ListPage, type Paged } from '../lib/cursor';
import { Customer, type CustomerDoc } from '../models';
import { countryName, isMarketCode } from '../domain/countries';
import { currencyForMarket } from '../domain/markets';
import { literalPattern, nameKey, storedNameKeys } from '../domain/text';

export interface CustomerInput {
  name: string;
  tenantId: string;
  domain: string;
  market: string;
}

export function customerView(c: CustomerDoc) {
  return {
    id: c._id,
    name: c.name,
    tenantId: c.tenantId,
    domain: c.domain,
    market: c.market,
    marketName: countryName(c.market) ?? c.market,
    currency: currencyForMarket(c.market),
    createdAt: c.createdAt.toISOString(),
  };
}

export async function createCustomer(partnerId: string, input: CustomerInput): Promise<CustomerDoc> {
  if (!isMarketCode(input.market)) {
    throw new AppError(400, 'validation_failed', `body.market ${JSON.stringify(input.market)} is not an ISO 3166-1 alpha-2 country code`, 'body.market');
  }
  const doc = {
    _id: crypto.randomUUID(),
    partnerId,
    name: input.name.trim(),
    nameKey: nameKey(input.name),
    tenantId: input.tenantId.toLowerCase(),
    domain: input.domain.toLowerCase(),
    market: input.market,
    createdAt: new Date(),
  };
  // customers are named by id, tenant GUID, domain or name (resolveCustomer): a name that is another customer's id,
  // GUID or domain, or a GUID or domain that is another's name or id, would make one of them unreachable by that name
  // (an id wins the lookup: QA named a customer by another's id, and the new one's orders went to the other)
  const shadow = await Customer.findOne({
    partnerId,
    $or: [{ _id: { $in: [doc.nameKey, doc.tenantId] } }, { tenantId: doc.nameKey }, { domain: doc.nameKey }, { nameKey: { $in: [doc.tenantId, doc.domain] } }],
  }).lean();
  if (shadow) {
    const { message, field } =
      shadow._id === doc.nameKey
        ? { message: `body.name ${JSON.stringify(doc.name)} is the id of customer ${shadow.name}: choose another name`, field: 'body.name' }
        : shadow._id === doc.tenantId
          ? { message: `body.tenantId ${doc.tenantId} is csp-desk's id of customer ${shadow.name}, not a tenant GUID: give the customer's own tenant GUID`, field: 'body.tenantId' }
          : shadow.tenantId === doc.nameKey || shadow.domain === doc.nameKey
            ? { message: `body.name ${JSON.stringify(doc.name)} is the tenant GUID or domain of customer ${shadow.name}: choose another name`, field: 'body.name' }
            : { message: `customer ${shadow.name} is named ${JSON.stringify(shadow.name)}: this tenant GUID or domain would shadow that name`, field: shadow.nameKey === doc.domain ? 'body.domain' : 'body.tenantId' };
    throw new AppError(409, 'customer_name_ambiguous', message, field);
  }
  // a name taken under a key stored before names were composed (the unique index sees only the same key)
  const legacyKeys = storedNameKeys(doc.name).filter((k) => k !== doc.nameKey);
  const legacyTwin = legacyKeys.length ? await Customer.findOne({ partnerId, nameKey: { $in: legacyKeys } }).lean() : null;
  if (legacyTwin) throw new AppError(409, 'customer_exists', `a customer with this name already exists: ${legacyTwin.name} (${legacyTwin._id})`, 'body.name');
  try {
    await Customer.create(doc);
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
    const clash = await Customer.findOne({ partnerId, $or: [{ tenantId: doc.tenantId }, { domain: doc.domain }, { nameKey: doc.nameKey }] }).lean();
    const field = clash?.tenantId === doc.tenantId ? 'tenantId' : clash?.domain === doc.domain ? 'domain' : 'name';
    const label = field === 'tenantId' ? 'tenant GUID' : field === 'domain' ? 'domain name' : 'name';
    throw new AppError(409, 'customer_exists', `a customer with this ${label} already exists: ${clash ? `${clash.name} (${clash._id})` : 'another customer'}`, `body.${field}`);
  }
  return doc;
}

/** The list a customers cursor pages: the partner's (another partner's cursor is a 400, never a point in this list). */
const customerList = (partnerId: string) => `customers:${partnerId}`;

/** The partner's customers by name (then id), a page at a time; without a page, all of them. */
export async function listCustomers(partnerId: string, page?: ListPage): Promise<Paged<CustomerDoc>> {
  const from = page?.cursor !== undefined ? decodeCursor(customerList(partnerId), page.cursor) : null;
  const filter = { partnerId, ...(from ? after('nameKey', 1, from.key, from.id) : {}) };
  return readPage(
    page,
    (limit) => {
      const q = Customer.find(filter).sort({ nameKey: 1, _id: 1 });
      return (limit === undefined ? q : q.limit(limit)).lean<CustomerDoc[]>();
    },
    (c) => encodeCursor(customerList(partnerId), c.nameKey, c._id),
  );
}


/**
 * The pages' customer search: the partner's customers whose name contains `q` (as names compare: domain/text.ts
 * nameKey), whose domain contains it or whose tenant GUID begins with it, in name order, a page at a time, with how
 * many match and how many the partner has. Filtered by the database, so that a partner with thousands of customers
 * is not read whole for each keystroke (review: the page loaded every customer to filter them).
 */
export async function searchCustomers(partnerId: string, q: string, page: ListPage): Promise<Paged<CustomerDoc> & { matching: number; total: number }> {
  const k = nameKey(q);
  const text = literalPattern(k);
  // (a name stored before names were composed, NFC, has its key decomposed: found by the decomposed text too)
  const decomposed = k.normalize('NFD') === k ? [] : [{ nameKey: { $regex: literalPattern(k.normalize('NFD')) } }];
  const match = k ? { partnerId, $or: [{ nameKey: { $regex: text } }, ...decomposed, { domain: { $regex: text } }, { tenantId: { $regex: `^${text}` } }] } : { partnerId };
  const from = page.cursor !== undefined ? decodeCursor(customerList(partnerId), page.cursor) : null;
  const filter = from ? { $and: [match, after('nameKey', 1, from.key, from.id)] } : match;
  const [found, matching, total] = await Promise.all([
    readPage(page, (limit) => Customer.find(filter).sort({ nameKey: 1, _id: 1 }).limit(limit!).lean<CustomerDoc[]>(), (c) => encodeCursor(customerList(partnerId), c.nameKey, c._id)),
    Customer.countDocuments(match),
    k ? Customer.countDocuments({ partnerId }) : null,
  ]);
  return { ...found, matching, total: total ?? matching };
}

/** Finds the partner's customer by id, tenant GUID, domain name or name (in that order of preference). */
export async function resolveCustomer(partnerId: string, ref: string): Promise<CustomerDoc> {
  const raw = ref.trim();
  const key = raw.toLowerCase();
  // (a name stored before names were composed, NFC, is found under its old key too)
  const byName = storedNameKeys(raw);
  const found = await Customer.find({ partnerId, $or: [{ _id: raw }, { tenantId: key }, { domain: key }, { nameKey: { $in: byName } }] }).limit(4).lean();
  const match = found.find((c) => c._id === raw) ?? found.find((c) => c.tenantId === key) ?? found.find((c) => c.domain === key) ?? found.find((c) => byName.includes(c.nameKey));
  if (!match) throw notFound('customer', ref);
  return match;
}

/** Whether `ref` names this customer (id, name, tenant GUID or domain). */
export function namesCustomer(c: Pick<CustomerDoc, 'name' | 'tenantId' | 'domain'> & { id?: string; _id?: string }, ref: string): boolean {
  const raw = ref.trim();
  const key = raw.toLowerCase();
  return raw === (c.id ?? c._id) || key === c.tenantId.toLowerCase() || key === c.domain.toLowerCase() || nameKey(raw) === nameKey(c.name);
}
