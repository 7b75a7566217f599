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

/** The page of `rows` (read with limit + 1, so one more tells there is a next page) and the next page's cursor. */
export function pageOf<T>(rows: T[], limit: number, cursorOf: (last: T) => string): Paged<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? cursorOf(items[items.length - 1]) : null };
}
