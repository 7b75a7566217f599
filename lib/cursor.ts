/**
 * Page cursors: the list they page and the sort key of the last item a page gave (a key and the item's id, the
 * tie-break), as opaque base64url JSON. A cursor the API did not give out for this list is a 400 naming
 * `query.cursor`, never a 500, nor a page of the wrong list: one customer's orders cursor on another customer's
 * orders, or on the customers (whose names it would have cut at a date: QA).
 * The list is named by the caller (`customers`, `orders:<customer id>`, `activity-log`); the lists are each partner's
 * own, so a cursor written by hand can only start one's own list somewhere.
 */
import { AppError } from './errors';

export function encodeCursor(list: string, key: string, id: string): string {
  return Buffer.from(JSON.stringify([list, key, id])).toString('base64url');
}

const refused = () => new AppError(400, 'validation_failed', 'query.cursor is not a cursor this API gave out for this list: ask for the first page again, without one', 'query.cursor');

export function decodeCursor(list: string, cursor: string): { key: string; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 3 && parsed[0] === list && typeof parsed[1] === 'string' && typeof parsed[2] === 'string') return { key: parsed[1], id: parsed[2] };
  } catch {
    /* refused below */
  }
  throw refused();
}

/** A cursor whose key is an instant (newest-first lists). */
export const encodeInstantCursor = (list: string, at: Date, id: string): string => encodeCursor(list, at.toISOString(), id);

export function decodeInstantCursor(list: string, cursor: string): { at: Date; id: string } {
  const { key, id } = decodeCursor(list, cursor);
  const at = new Date(key);
  if (Number.isNaN(at.getTime())) throw refused();
  return { at, id };
}

/** A page of a list: at most `limit` items after `cursor` (none: from the start). */
export interface ListPage {
  limit: number;
  cursor?: string;
}

export interface Paged<T> {
  items: T[];
  /** the cursor of the next page; null on the last */
  nextCursor: string | null;
}

/**
 * The filter of what comes after a cursor in a list sorted by `field` (`order` 1 ascending, -1 descending), then by
 * `_id` ascending, the tie-break.
 */
export function after<K>(field: string, order: 1 | -1, key: K, id: string): Record<string, unknown> {
  return { $or: [{ [field]: { [order === 1 ? '$gt' : '$lt']: key } }, { [field]: key, _id: { $gt: id } }] };
}

/**
 * Reads a page: `read(limit)` runs the sorted query with the limit given (one more than the page, so that one more
 * tells there is a next page; none without a page: the whole list), then the page and the next page's cursor.
 */
export async function readPage<T>(page: ListPage | undefined, read: (limit: number | undefined) => Promise<T[]>, cursorOf: (last: T) => string): Promise<Paged<T>> {
  const rows = await read(page ? page.limit + 1 : undefined);
  if (!page || rows.length <= page.limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, page.limit);
  return { items, nextCursor: cursorOf(items[items.length - 1]) };
}
