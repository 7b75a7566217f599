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

export const badRequest = (code: string, message: string, field?: string) => new AppError(400, code, message, field);
export const notFound = (what: string, id: string) => new AppError(404, 'not_found', `${what} ${JSON.stringify(id)} was not found`);
export const conflict = (code: string, message: string, details?: unknown) => new AppError(409, code, message, undefined, details);
export const unprocessable = (code: string, message: string, field?: string, details?: unknown) =>
  new AppError(422, code, message, field, details);

/** E11000: a unique index refused an insert, i.e. the fact is already recorded. */
export function isDuplicateKey(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 11000;
}
