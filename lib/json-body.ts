/**
 * A JSON answer serialized once: its UTF-8 bytes and their ETag, which the API sends as they are (api/http.ts
 * buildRouter), byte for byte what `res.json` would have sent for the same value, ETag included. A service hands one
 * back where it keeps an answer it has already rendered (services/orders.ts viewJson), so that an answer read again
 * unchanged costs neither a `JSON.stringify`, nor a string's encoding, nor a hash.
 */
import crypto from 'node:crypto';

/**
 * The ETag of a GET answer, as Express's default makes it (weak, the body's length in hex and the first 27
 * characters of its SHA-1 in base64), computed in one call instead of through a Hash object: Express hands it the
 * body as a Buffer.
 */
export function weakETag(body: Buffer | string, encoding?: BufferEncoding): string {
  const buf = typeof body === 'string' ? Buffer.from(body, encoding) : body;
  return `W/"${buf.length.toString(16)}-${crypto.hash('sha1', buf, 'base64').substring(0, 27)}"`;
}

export class PreparedJson {
  private constructor(
    /** the value's JSON in UTF-8 (whatever `res.json` would send for it) */
    readonly bytes: Buffer,
    /** weakETag(bytes) */
    readonly etag: string,
  ) {}

  static of(value: unknown): PreparedJson {
    const text = JSON.stringify(value);
    // kept (services/orders.ts): a buffer of its own, not a slice of Node's shared pool, which a small one would pin
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
    bytes.write(text, 'utf8');
    return new PreparedJson(bytes, weakETag(bytes));
  }
}
