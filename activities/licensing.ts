/** Licensing: activation keys (and, with them, download links) of an order's software. */
import crypto from 'node:crypto';

const KEY_ALPHABET = 'BCDFGHJKMPQRTVWXY2346789';
/** A product key in the familiar 5x5 format. */
export function generateActivationKey(): string {
  const bytes = crypto.randomBytes(25);
  const chars = [...bytes].map((b) => KEY_ALPHABET[b % KEY_ALPHABET.length]);
  return [0, 5, 10, 15, 20].map((i) => chars.slice(i, i + 5).join('')).join('-');
}
