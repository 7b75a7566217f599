/**
 * Licensing: a customer's software with its activation keys, "Get keys and downloads" (a download link per
 * request, two weeks or 50 downloads, whichever comes first), and serving the files behind the links.
 *
 * Data design (FerretDB loses concurrent updates; unique indexes hold): a link is inserted once and never
 * updated by the API (only the order's workflow marks it revoked); each counted download claims a slot
 * `<link>:<n>`, n in 1..50, under the unique `_id`, so at most 50 downloads succeed however many race; log
 * entries are inserted once under their natural key. A link serves only while its order is active, which
 * closes the gap between a cancellation's revocation and a link inserted at the same moment.
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import rangeParser from 'range-parser';
import fresh from 'fresh';
import { AppError, insertOnce, isDuplicateKey, notFound } from '../lib/errors';
import { DatabaseUnavailableError } from '../lib/db';
import type { FileInfo, FileStore } from '../lib/files';
import { ActivationKey, DownloadClaim, DownloadLink, DownloadLinkRequest, DownloadResume, Order, Product, appendActivity, missingActivity, type ActivityEntryDoc, type DownloadClaimDoc, type DownloadLinkDoc, type DownloadLinkRequestDoc, type OrderDoc } from '../models';
import type { Logger } from '../lib/logger';
import type { DownloadOption } from '../domain/catalog';
import { activitySubject, servesSoftware, downloadEntryFields, interruptedDownloadEntry, linkRef, LOST_LOG_AFTER_MS, LINK_MAX_DOWNLOADS, LINK_REFUSALS, MAX_RESUMES_PER_DOWNLOAD, resumableClaim, countsAsDownload, linkExpiresAt, linkRefusal, linkServesUntil, matchDownloadOption, pickSlot, type DownloadChoice, type LinkRefusal } from '../domain/licensing';
import type { RequestOrigin } from '../domain/orders';
import { originalOrderIdOf } from '../domain/order-imports';
import { utcSecond } from '../domain/time';
import { currentRequestId, noteRequestOrder, type AuthContext } from './context';
import { resolveCustomer } from './customers';
import { findPartnerOrder } from './orders';

export interface LicensingDeps {
  files: FileStore;
  /** base of the links handed out (PUBLIC_BASE_URL); without it, links are paths */
  publicBaseUrl?: string;
  /** the clock of link creation and validity (tests move it) */
  now?: () => Date;
  /** randomness of the slot choice (tests may fix it) */
  random?: () => number;
}

const TOKEN_PREFIX = 'dl_';
/** 32 random bytes (256 bits), base64url: 43 characters */
const TOKEN_RE = /^dl_[A-Za-z0-9_-]{43}$/;

export const hashLinkToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

const sha256Hex = (...parts: string[]) => crypto.createHash('sha256').update(parts.join('\0')).digest('hex');
/**
 * The AES-256 key that seals a link's token for replays: derived (HKDF) from the Idempotency-Key, which only the client
 * holds, and the user it belongs to. A key chosen at random (the pages' are UUIDs) keeps the token out of reach of
 * whoever reads the database; a guessable one can be found by trying, as the record's id is a plain digest of it.
 */
const replayKey = (owner: string, idempotencyKey: string) => Buffer.from(crypto.hkdfSync('sha256', idempotencyKey, owner, 'csp-desk download link token', 32));

export function sealLinkToken(token: string, owner: string, idempotencyKey: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', replayKey(owner, idempotencyKey), iv);
  const sealed = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

export interface LinkRequestOwner {
  partnerId: string;
  userId: string;
}
const ownerOf = (o: LinkRequestOwner) => `${o.partnerId}\0${o.userId}`;

/**
 * What a "Get keys and downloads" with an Idempotency-Key records before its link: under the SHA-256 of the partner,
 * the user and the key (a key is its user's own: another user's request is never a replay, and is logged as theirs),
 * the order and option asked for, and the link's token sealed.
 */
export function linkRequestRecord(auth: LinkRequestOwner, idempotencyKey: string, orderId: string, optionKey: string, token: string, at: Date): DownloadLinkRequestDoc {
  const owner = ownerOf(auth);
  return {
    _id: sha256Hex('download-link', owner, idempotencyKey),
    partnerId: auth.partnerId,
    orderId,
    requestHash: sha256Hex(orderId, optionKey),
    linkId: hashLinkToken(token),
    sealedToken: sealLinkToken(token, owner, idempotencyKey),
    createdAt: at,
  };
}

/** The token `sealLinkToken` sealed, or null when the key does not open it (another key, or a record altered). */
export function openLinkToken(sealedToken: string, owner: string, idempotencyKey: string): string | null {
  const b = Buffer.from(sealedToken, 'base64url');
  if (b.length < 29) return null;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', replayKey(owner, idempotencyKey), b.subarray(0, 12));
    decipher.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([decipher.update(b.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

export interface DownloadRequest {
  token: string;
  method: string;
  range?: string;
  ifRange?: string;
  /** the client's If-None-Match: when it names this file, the answer is 304 and nothing is counted or logged */
  ifNoneMatch?: string;
  origin: RequestOrigin;
  /** where a late log entry's failure is said (it never fails the download) */
  log?: Logger;
}

export type DownloadAnswer =
  | { kind: 'file'; status: 200 | 206; option: DownloadOption; file: FileInfo; start: number; end: number; body: Readable | undefined; download: number | null }
  | { kind: 'unsatisfiable'; file: FileInfo }
  | { kind: 'not_modified'; file: FileInfo };

/** The client of a download request, for its resumes: a digest of its address and user agent (neither is stored here). */
const downloadClient = (origin: RequestOrigin) => crypto.createHash('sha256').update(`${origin.ip ?? ''}\n${origin.userAgent ?? ''}`).digest('hex');

const etagOf = (file: FileInfo) => `"sha256-${file.sha256.slice(0, 32)}"`;

function optionView(o: DownloadOption) {
  return { optionKey: o.optionKey, optionTitle: o.optionTitle, languageCode: o.languageCode, languageName: o.languageName, fileType: o.fileType, fileName: o.fileName, contentType: o.contentType, sizeBytes: o.sizeBytes };
}

export function createLicensingService(deps: LicensingDeps) {
  const clock = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;
  const base = (deps.publicBaseUrl ?? '').replace(/\/+$/, '');

  const about = activitySubject;
  const userEntry = (auth: AuthContext) => ({
    userPrincipalName: auth.user.email,
    actor: { kind: 'user' as const, userId: auth.user._id, name: auth.user.name, role: auth.role },
    ipAddress: auth.origin?.ip ?? null,
    userAgent: auth.origin?.userAgent ?? null,
  });

  /** The partner's order a user names, by either of its ids (services/orders.ts findPartnerOrder). */
  async function loadNamedOrder(partnerId: string, ref: string): Promise<OrderDoc> {
    const order = await findPartnerOrder(partnerId, ref);
    if (!order) throw notFound('order', ref);
    if (order._id !== ref) noteRequestOrder(order._id);
    return order;
  }

  type TakenSlot = Pick<DownloadClaimDoc, 'n' | 'at' | 'entry'>;
  /**
   * Claims a free download slot of the link, keeping what its log entry says (`detail(n)`): its number and the slots
   * taken before it, or null when all are taken.
   */
  async function claimSlot(link: DownloadLinkDoc, at: Date, client: string, detail: (n: number) => string): Promise<{ n: number; before: TakenSlot[] } | null> {
    const max = link.maxDownloads;
    // every failed insert means another request took a slot, so this ends within max + 1 rounds
    for (let round = 0; round <= max + 1; round++) {
      const taken = await DownloadClaim.find({ linkId: link._id }, { n: 1, at: 1, entry: 1 }).lean<TakenSlot[]>();
      // the lowest free slot first (downloads numbered in order when they come one by one); after a
      // collision, a random free one, so that a crowd spreads over the free slots instead of queueing
      const n = pickSlot(
        taken.map((c) => c.n),
        round === 0 ? () => 0 : random,
        max,
      );
      if (n === null) return null;
      try {
        await DownloadClaim.create({ _id: `${link._id}:${n}`, linkId: link._id, n, at, client, entry: { detail: detail(n), requestId: currentRequestId() } });
        return { n, before: taken };
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
      }
    }
    throw new Error(`could not claim a download slot of link ${linkRef(link._id)}`);
  }

  /** One of a counted download's resume slots, or false when all are taken (the request then counts as a download). */
  async function takeResumeSlot(link: DownloadLinkDoc, claimId: string, at: Date): Promise<boolean> {
    for (let k = 1; k <= MAX_RESUMES_PER_DOWNLOAD; k++) {
      try {
        await DownloadResume.create({ _id: `${claimId}:r${k}`, linkId: link._id, claimId, k, at });
        return true;
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
      }
    }
    return false;
  }

  /**
   * Writes the log entries of slots taken before whose requests failed between the slot and its entry (the database
   * gone for a moment, the process killed): each from what its slot kept, at its time, saying so. Only slots taken
   * LOST_LOG_AFTER_MS before `now`: a younger one may belong to a request still on its way to its own entry, which
   * would then find its place taken by one without its address. One lookup by `_id` per slot this process has not
   * seen logged (models/activity-log.ts missingActivity); nothing to do otherwise. Never fails the download it runs in.
   */
  async function logLostDownloads(link: DownloadLinkDoc, order: OrderDoc | null, before: TakenSlot[], now: Date, req: DownloadRequest) {
    try {
      const kept = before.filter((c) => c.entry && new Date(c.at).getTime() <= now.getTime() - LOST_LOG_AFTER_MS);
      const lost = new Set(await missingActivity(kept.map((c) => `download:${link._id}:${c.n}`)));
      for (const c of kept) {
        if (!lost.has(`download:${link._id}:${c.n}`)) continue;
        if (await appendActivity(interruptedDownloadEntry({ n: c.n, at: c.at, entry: c.entry! }, { link, order }, 'a later download'))) {
          req.log?.warn({ link: linkRef(link._id), slot: c.n }, 'download slot logged late: its request had failed before logging it');
        }
      }
    } catch (err) {
      req.log?.warn({ err, link: linkRef(link._id) }, 'could not log download slots whose requests failed; a later download tries again');
    }
  }

  /** Inserts the entry once under its natural key: false when it was there already. */
  async function logDownload(link: DownloadLinkDoc, order: OrderDoc | null, entry: Pick<ActivityEntryDoc, '_id' | 'operationType' | 'operationStatus' | 'detail' | 'reason'>, at: Date, req: DownloadRequest): Promise<boolean> {
    return appendActivity({ ...entry, ...downloadEntryFields({ link, order, origin: req.origin }, at, currentRequestId()) });
  }

  /**
   * The active key of an order that is active, or a refusal logged as `refusal` says (order not active, key not
   * issued yet): what "Get keys" and "Get keys and downloads" check before giving anything.
   */
  async function activeKeyOrRefuse(
    auth: AuthContext,
    order: OrderDoc,
    at: Date,
    refusal: { idPrefix: string; operationType: 'get_software_keys' | 'create_software_download_link'; resourceType: 'software_key' | 'software_download_link'; detail: string; what: string },
  ) {
    const refuse = async (code: string, status: number, message: string) => {
      await appendActivity({
        _id: `${refusal.idPrefix}:${crypto.randomUUID()}`,
        ...about(order),
        operationDate: at,
        operationType: refusal.operationType,
        resourceType: refusal.resourceType,
        operationStatus: 'failed',
        ...userEntry(auth),
        resourceId: null,
        detail: `${refusal.detail}: ${message}`,
        reason: code,
        requestId: currentRequestId(),
      });
      return new AppError(status, code, message, undefined, { orderStatus: order.status });
    };
    if (!servesSoftware(order, at)) {
      const state = order.status === 'active' ? `past its term, which ended ${utcSecond(new Date(order.termEndsAt!))}` : order.status;
      throw await refuse('order_not_active', 409, `order ${order._id} is ${state}: ${refusal.what} only while it is active`);
    }
    const key = await ActivationKey.findOne({ orderId: order._id, status: 'active' }).lean();
    if (key) return key;
    // its keys revoked while the order still reads active: a cancellation (or the term's end) under way, which
    // revokes them first. Not "try again in a moment" (QA): the order is ending, and no key will come
    if (await ActivationKey.exists({ orderId: order._id, status: 'revoked' })) {
      throw await refuse('order_not_active', 409, `order ${order._id} is being cancelled or its term is ending: its keys and links are revoked, and ${refusal.what} no longer`);
    }
    throw await refuse('key_not_ready', 409, `order ${order._id} has no activation key yet: try again in a moment`);
  }

  /**
   * The token of the link a "Get keys and downloads" makes: a new one, or with an Idempotency-Key the one its first
   * request made (recorded before the link is written, so a request that dies in between is finished by its replay).
   */
  async function linkTokenFor(owner: LinkRequestOwner, orderId: string, optionKey: string, at: Date, idempotencyKey: string | undefined) {
    const token = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
    if (idempotencyKey === undefined) return { token, linkId: hashLinkToken(token), createdAt: at, replayed: false };
    const record = linkRequestRecord(owner, idempotencyKey, orderId, optionKey, token, at);
    let first = await DownloadLinkRequest.findById(record._id).lean();
    if (!first) {
      if (await insertOnce(() => DownloadLinkRequest.create(record))) return { token, linkId: record.linkId, createdAt: at, replayed: false };
      first = await DownloadLinkRequest.findById(record._id).lean();
      if (!first) throw new Error(`the download link request ${record._id} was taken by another request but cannot be read`);
    }
    if (first.requestHash !== record.requestHash) {
      throw new AppError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for another order or download option; use a new key for a new link', 'header.idempotency-key');
    }
    // a link past its two weeks is given by no request, a replay included
    const expiredAt = linkExpiresAt(new Date(first.createdAt));
    if (expiredAt.getTime() <= at.getTime()) {
      throw new AppError(409, 'idempotency_key_expired', `the link this Idempotency-Key made expired at ${utcSecond(expiredAt)}; send the request with a new key for a new link`, 'header.idempotency-key');
    }
    const firstToken = openLinkToken(first.sealedToken, ownerOf(owner), idempotencyKey);
    if (firstToken === null || hashLinkToken(firstToken) !== first.linkId) throw new Error(`the download link request ${record._id} does not open with its own key`);
    return { token: firstToken, linkId: first.linkId, createdAt: new Date(first.createdAt), replayed: true };
  }

  return {
    /** A customer's software: every order, cancelled ones included, with its key while the order is active. Each key shown is logged. */
    /**
     * `reveal: false` (the customer page) leaves the keys out, saying only which items have one (`keyAvailable`), and
     * logs nothing; `log: false` (a HEAD, which sends no body) shows nothing to anyone, so it logs nothing either.
     */
    async listSoftware(auth: AuthContext, customerRef: string, opts: { reveal?: boolean; log?: boolean } = {}) {
      const reveal = opts.reveal ?? true;
      const requestId = currentRequestId();
      const customer = await resolveCustomer(auth.partnerId!, customerRef);
      const orders = await Order.find({ partnerId: auth.partnerId, customerId: customer._id }).sort({ purchasedAt: -1, _id: 1 }).lean<OrderDoc[]>();
      const ids = orders.map((o) => o._id);
      const [keys, products] = await Promise.all([
        ActivationKey.find({ orderId: { $in: ids }, status: 'active' }).lean(),
        Product.find({ _id: { $in: [...new Set(orders.map((o) => o.product.id))] } }).lean(),
      ]);
      const keyOf = new Map(keys.map((k) => [k.orderId, k]));
      const downloadsOf = new Map(products.map((p) => [p._id, p.downloads ?? null]));
      const at = clock();
      const visit = crypto.randomUUID();
      const items = orders.map((o) => {
        // keys are usable only while the order is active: none once cancelled or expired
        const serves = servesSoftware(o, at);
        const key = serves ? (keyOf.get(o._id) ?? null) : null;
        return {
          order: o,
          key,
          view: {
            orderId: o._id,
            originalOrderId: originalOrderIdOf(o),
            productId: o.product.id,
            productName: o.product.name,
            status: o.status,
            purchasedAt: o.purchasedAt.toISOString(),
            quantity: o.pricing.quantity,
            activationKey: reveal ? (key?.key ?? null) : null,
            keyAvailable: key !== null,
            downloads: serves ? (downloadsOf.get(o.product.id)?.map(optionView) ?? null) : null,
          },
        };
      });
      // the log has every key this answer shows, before the answer goes out
      await Promise.all(
        items
          .filter((i) => i.key && reveal && opts.log !== false)
          .map((i) =>
            appendActivity({
              _id: `keys:${visit}:${i.order._id}`,
              ...about(i.order),
              operationDate: at,
              operationType: 'get_software_keys',
              resourceType: 'software_key',
              operationStatus: 'succeeded',
              ...userEntry(auth),
              resourceId: i.key!._id,
              detail: `activation key shown in the software list of ${i.order.customer.name}`,
              reason: null,
              requestId,
            }),
          ),
      );
      return items.map((i) => i.view);
    },

    /**
     * "Get keys": the order's activation key alone (a product with no downloads, such as Windows 7 ESU, has only
     * its key). Logged as a key reveal; refusals are logged too.
     */
    async getKey(auth: AuthContext, ref: string, idempotencyKey?: string) {
      const requestId = currentRequestId();
      const order = await loadNamedOrder(auth.partnerId!, ref);
      const orderId = order._id;
      if (order.product.deliverable !== 'activation-key') throw new AppError(422, 'no_key', `${order.product.name} has no activation key`);
      const at = clock();
      const key = await activeKeyOrRefuse(auth, order, at, { idPrefix: 'key-refused', operationType: 'get_software_keys', resourceType: 'software_key', detail: 'activation key not shown', what: 'its activation key is shown' });
      // the same user's same Idempotency-Key again (a retry, a page reloaded) shows the key once more and logs nothing new
      const entryId = idempotencyKey === undefined ? crypto.randomUUID() : sha256Hex(auth.partnerId!, auth.user._id, orderId, idempotencyKey);
      await appendActivity({ _id: `key-shown:${entryId}`, ...about(order), operationDate: at, operationType: 'get_software_keys', resourceType: 'software_key', operationStatus: 'succeeded', ...userEntry(auth), resourceId: key._id, detail: 'activation key shown (Get keys)', reason: null, requestId });
      return { orderId, customer: { id: order.customerId, name: order.customer.name }, product: { id: order.product.id, name: order.product.name }, activationKey: { key: key.key, activations: key.activations } };
    },

    /**
     * "Get keys and downloads": the order's activation key and a fresh download link for one option. With an
     * Idempotency-Key, the same request again (a retry, a page reloaded) gives the same link (`replayed`) and logs
     * nothing new, while the order is active; the same key with another order or option is refused.
     */
    async getKeysAndDownloads(auth: AuthContext, ref: string, choice: DownloadChoice, idempotencyKey?: string) {
      const requestId = currentRequestId();
      const order = await loadNamedOrder(auth.partnerId!, ref);
      const orderId = order._id;
      const product = await Product.findById(order.product.id).lean();
      const options = product?.downloads ?? null;
      if (order.product.deliverable !== 'activation-key') throw new AppError(422, 'no_key', `${order.product.name} has no activation key or downloads`);
      if (!options || options.length === 0) {
        throw new AppError(422, 'no_downloads', `${order.product.name} has no downloads: its activation key alone is given by POST /orders/${orderId}/key`);
      }
      const match = matchDownloadOption(options, choice);
      if ('field' in match) throw new AppError(400, 'validation_failed', `body.${match.message}`, `body.${match.field}`, { allowed: match.allowed });
      const option = match.option;
      const at = clock();
      const key = await activeKeyOrRefuse(auth, order, at, {
        idPrefix: 'link-refused',
        operationType: 'create_software_download_link',
        resourceType: 'software_download_link',
        detail: `no key or link for ${option.optionKey}`,
        what: 'keys and downloads are available',
      });

      const file = await deps.files.describe(option);
      const made = await linkTokenFor({ partnerId: auth.partnerId!, userId: auth.user._id }, orderId, option.optionKey, at, idempotencyKey);
      const { token, linkId, createdAt } = made;
      // its 14 days, or a subscription's term end when that comes first
      const expiresAt = linkServesUntil(createdAt, order.termEndsAt ? new Date(order.termEndsAt) : null);
      // a replay writes what the first request did not get to (it may have died, or still be under way): the link
      // (with its limits from the first request) and its entries, dated when they are written, have natural ids, so
      // each is written once
      await insertOnce(() => DownloadLink.create({
        _id: linkId,
        orderId,
        partnerId: order.partnerId,
        customerId: order.customerId,
        productId: order.product.id,
        option,
        sha256: file.sha256,
        createdBy: { userId: auth.user._id, name: auth.user.name, email: auth.user.email, role: auth.role },
        status: 'active',
        createdAt,
        expiresAt,
        maxDownloads: LINK_MAX_DOWNLOADS,
        revokedAt: null,
      }));
      const common = { ...about(order), operationDate: at, operationStatus: 'succeeded' as const, ...userEntry(auth), reason: null, requestId };
      await appendActivity({ _id: `key:${linkId}`, ...common, operationType: 'get_software_keys', resourceType: 'software_key', resourceId: key._id, detail: `activation key revealed with a download link for ${option.optionKey}` });
      await appendActivity({
        _id: `link:${linkId}`,
        ...common,
        operationType: 'create_software_download_link',
        resourceType: 'software_download_link',
        resourceId: linkRef(linkId),
        detail: `download link for ${option.fileName} (${option.optionTitle}, ${option.languageName}, ${option.fileType}), until ${utcSecond(expiresAt)} or ${LINK_MAX_DOWNLOADS} downloads`,
      });
      const path = `/downloads/${token}`;
      // the same request sent again (its Idempotency-Key: a reloaded page) gives the same link, maybe used since, with
      // the limit it was made with (a link made before a change of LINK_MAX_DOWNLOADS keeps its own)
      const [downloadsUsed, maxDownloads] = made.replayed
        ? await Promise.all([DownloadClaim.countDocuments({ linkId }), DownloadLink.findById(linkId, { maxDownloads: 1 }).lean().then((l) => l?.maxDownloads ?? LINK_MAX_DOWNLOADS)])
        : [0, LINK_MAX_DOWNLOADS];
      return {
        replayed: made.replayed,
        orderId,
        customer: { id: order.customerId, name: order.customer.name },
        product: { id: order.product.id, name: order.product.name },
        activationKey: { key: key.key, activations: key.activations },
        download: {
          url: `${base}${path}`,
          token,
          linkId: linkRef(linkId),
          option: optionView(option),
          sizeBytes: file.size,
          sha256: file.sha256,
          createdAt: createdAt.toISOString(),
          expiresAt: expiresAt.toISOString(),
          maxDownloads,
          downloadsLeft: Math.max(0, maxDownloads - downloadsUsed),
        },
      };
    },

    /**
     * Serves a link: 404 for an unknown token (nothing said), 410 with the reason for a revoked, expired or
     * exhausted one. A request from byte 0 claims a download slot; a range from further on resumes without
     * counting when it continues the same client's counted download of the last day, at most
     * MAX_RESUMES_PER_DOWNLOAD times each (`resumableClaim`); otherwise it claims a slot as well. An
     * If-None-Match naming the file is a 304 that counts nothing; a refused link (revoked, expired, used up) is still
     * refused first, for a 304, a 416 and a HEAD alike.
     */
    async openDownload(req: DownloadRequest): Promise<DownloadAnswer> {
      const unknown = new AppError(404, 'not_found', 'there is no download here');
      if (!TOKEN_RE.test(req.token)) throw unknown;
      const link = await DownloadLink.findById(hashLinkToken(req.token)).lean<DownloadLinkDoc>();
      if (!link) throw unknown;
      const order = await Order.findById(link.orderId).lean<OrderDoc>();
      const at = clock();
      // The link needs no sign-in, so anyone holding an old one could fill the partner's activity log (and the
      // database): a refused GET is logged once per link, reason and UTC day, the day's first refusal, under that
      // natural key (appendActivity remembers it, so that repeats cost no write); every refusal has its line in the
      // service's request log. A HEAD, told what a GET would be, logs nothing.
      const gone = async (reason: LinkRefusal) => {
        if (req.method !== 'HEAD') {
          const _id = `download-refused:${link._id}:${at.toISOString().slice(0, 10)}:${reason}`;
          // why in words (the entry's reason is the code: QA read "exhausted" twice in a row)
          const detail = `download of ${link.option.fileName} refused: ${LINK_REFUSALS[reason]} (the day's first refusal of this link)`;
          await logDownload(link, order, { _id, operationType: 'download_software', operationStatus: 'failed', detail, reason }, at, req);
        }
        return new AppError(410, `link_${reason}`, LINK_REFUSALS[reason], undefined, { reason });
      };
      const refusal = linkRefusal({ expiresAt: link.expiresAt, revoked: link.status === 'revoked', orderStatus: order?.status ?? null, orderTermEndsAt: order?.termEndsAt ?? null }, at);
      if (refusal) throw await gone(refusal);

      const client = downloadClient(req.origin);
      const resumable = async (from: number) => (countsAsDownload(from) ? null : resumableClaim(from, await DownloadClaim.find({ linkId: link._id, client }, { client: 1, at: 1 }).lean(), client, at));
      // every slot taken: gone, as a GET from `from` would be, unless it continues this client's own download with a
      // resume slot left. Answers that claim nothing (a HEAD, a 304, a 416) are told so before they are given.
      const usedUp = async (from: number) => {
        if ((await DownloadClaim.countDocuments({ linkId: link._id })) < link.maxDownloads) return false;
        const own = await resumable(from);
        return !own || (await DownloadResume.countDocuments({ claimId: own._id })) >= MAX_RESUMES_PER_DOWNLOAD;
      };

      const file = await deps.files.describe(link.option);
      // the client has this file already (a download manager checking for a change): no bytes, no download counted
      if (req.ifNoneMatch && fresh({ 'if-none-match': req.ifNoneMatch }, { etag: etagOf(file) })) {
        if (await usedUp(0)) throw await gone('exhausted');
        return { kind: 'not_modified', file };
      }
      let start = 0;
      let end = file.size - 1;
      let partial = false;
      // If-Range: the range holds only for the same file; otherwise the whole file is sent
      if (req.range && (!req.ifRange || req.ifRange === etagOf(file))) {
        // a suffix longer than the file means the whole file (RFC 9110 §14.1.3), which range-parser refuses
        const suffix = /^bytes=\s*-(\d+)\s*$/i.exec(req.range);
        const range = suffix && file.size > 0 && Number(suffix[1]) >= file.size ? 'bytes=0-' : req.range;
        const r = rangeParser(file.size, range, { combine: true });
        if (r === -1) {
          if (await usedUp(0)) throw await gone('exhausted');
          return { kind: 'unsatisfiable', file };
        }
        // a malformed Range is ignored (RFC 9110), and so are several ranges: the whole file is sent
        if (r !== -2 && r.type === 'bytes' && r.length === 1) {
          start = r[0].start;
          end = r[0].end;
          partial = true;
        }
      }
      const answer = (download: number | null): DownloadAnswer => ({
        kind: 'file',
        status: partial ? 206 : 200,
        option: link.option,
        file,
        start,
        end,
        body: req.method === 'HEAD' ? undefined : deps.files.stream(link.option, start, end),
        download,
      });
      if (req.method === 'HEAD') {
        if (await usedUp(start)) throw await gone('exhausted');
        return answer(null);
      }
      // a range from further on continues this client's own counted download, in one of its resume slots; anything
      // else is a download of its own
      // the link as read above may have been revoked since (a cancellation or the term's end under way): read again
      // once this request has taken its place, so that no download begins after its link's revocation was written
      // (QA: one began 17 ms after the revocation's entry). A revocation written after this read came after the
      // download had begun, as one written before the cancellation answers.
      const revokedSince = async () => (await DownloadLink.exists({ _id: link._id, status: 'revoked' })) !== null;
      const claim = await resumable(start);
      if (claim && (await takeResumeSlot(link, claim._id, at))) {
        if (await revokedSince()) throw await gone('revoked');
        await logDownload(link, order, { _id: `resume:${crypto.randomUUID()}`, operationType: 'resume_software_download', operationStatus: 'succeeded', detail: `download of ${link.option.fileName} resumed at byte ${start} (not counted)`, reason: null }, at, req);
        return answer(null);
      }
      const detail = (n: number) => `download slot ${n} of ${link.maxDownloads} of ${link.option.fileName}${partial ? ` (bytes ${start}-${end})` : ''}`;
      // a request held up for half the time after which others may log its slot as interrupted (the database or the
      // process frozen) takes none: a 503 now, rather than a slot counted and then refused below
      if (clock().getTime() - at.getTime() > LOST_LOG_AFTER_MS / 2) throw new DatabaseUnavailableError('this download request was held up too long before it could be counted; try again');
      const claimed = await claimSlot(link, at, client, detail);
      if (claimed === null) throw await gone('exhausted');
      const { n, before } = claimed;
      if (await revokedSince()) {
        // the slot it took stays counted (the link serves nothing more anyway) and its entry says what became of it
        await logDownload(link, order, { _id: `download:${link._id}:${n}`, operationType: 'download_software', operationStatus: 'failed', detail: `${detail(n)} refused: ${LINK_REFUSALS.revoked} (as this download began)`, reason: 'revoked' }, at, req);
        // no later request gets this far on a revoked link: slots whose requests died before their entries are logged now
        await logLostDownloads(link, order, before, at, req);
        throw new AppError(410, 'link_revoked', LINK_REFUSALS.revoked, undefined, { reason: 'revoked' });
      }
      const logged = await logDownload(link, order, { _id: `download:${link._id}:${n}`, operationType: 'download_software', operationStatus: 'succeeded', detail: detail(n), reason: null }, at, req);
      // the slot's entry was there already: this request took over a minute (LOST_LOG_AFTER_MS) from its start to its
      // entry (the database or the process frozen), and another wrote the slot as interrupted, served nothing. So it is:
      // a 503, and the log stays true
      if (!logged) throw new DatabaseUnavailableError(`download slot ${n} of link ${linkRef(link._id)} was logged as interrupted while this request waited on the database; try again`);
      await logLostDownloads(link, order, before, at, req);
      return answer(n);
    },

    etagOf,
  };
}

export type LicensingService = ReturnType<typeof createLicensingService>;
