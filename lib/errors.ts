/**
 * One error type for everything the API refuses on purpose. The error middleware turns it into
 * `{ error: { status, code, message, field?, requestId } }`; anything else becomes a logged 500.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, id: string) => new AppError(404, 'not_found', `${what} ${JSON.stringify(id)} was not found`);

/** E11000: a unique index refused an insert, i.e. the fact is already recorded. */
export function isDuplicateKey(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 11000;
}

/** Inserts a fact once: false when its natural key is already there. */
export async function insertOnce(create: () => Promise<unknown>): Promise<boolean> {
  try {
    await create();
    return true;
  } catch (e) {
    if (isDuplicateKey(e)) return false;
    throw e;
  }
}

/**
 * Takes one of `slots` slots named `${prefix}:0` to `${prefix}:${slots - 1}`, each a document under its unique
 * `_id` (`create` inserts one): the id taken, or null when all are. A limit without a shared counter: two callers
 * never take one slot, and a slot given back (deleted) is free again. It starts at the number of slots already taken
 * (`taken`, counted just before), so that a caller mostly inserts once, then tries the lower ones a give-back freed.
 */
export async function takeSlot(prefix: string, slots: number, taken: number, create: (id: string) => Promise<unknown>): Promise<string | null> {
  // all taken when counted: refused without trying each (a flood over the limit costs one read per request)
  if (taken >= slots) return null;
  const start = Math.max(0, taken);
  for (let i = 0; i < slots; i++) {
    const id = `${prefix}:${(start + i) % slots}`;
    if (await insertOnce(() => create(id))) return id;
  }
  return null;
}

/**
 * An entry point's start failure, on one line for the operator (`MongooseServerSelectionError: connect
 * ECONNREFUSED 127.0.0.1:27018`), its stack only with LOG_LEVEL=debug (QA: a server away printed a stack trace).
 */
export function startFailure(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (process.env.LOG_LEVEL === 'debug') return e.stack ?? e.message;
  return `${e.name}: ${e.message.split('\n')[0]}`;
}
