/**
 * Page cursors: the sort key of the last item a page gave (a key and the item's id, the tie-break), as opaque
 * base64url JSON. A cursor the API did not give out is a 400 naming `query.cursor`, never a 500.
 */
import { AppError } from './errors';

export function encodeCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

const refused = () => new AppError(400, 'validation_failed', 'query.cursor is not a cursor this API gave out', 'query.cursor');

export function decodeCursor(cursor: string): { key: string; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') return { key: parsed[0], id: parsed[1] };
  } catch {
    /* refused below */
  }
  throw refused();
}

/** A cursor whose key is an instant (newest-first lists). */
export const encodeInstantCursor = (at: Date, id: string): string => encodeCursor(at.toISOString(), id);

export function decodeInstantCursor(cursor: string): { at: Date; id: string } {
  const { key, id } = decodeCursor(cursor);
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
