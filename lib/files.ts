/**
 * The software files csp-desk serves: deterministic stand-in images, one per download option, generated on
 * the fly and never stored. Each is a short text header naming the option, then an AES-256-CTR keystream
 * keyed by the option key: the same bytes every time, on every machine, incompressible like a real image,
 * and seekable (CTR mode starts at any 16-byte block), so a Range is served without generating what comes
 * before it. The SHA-256 of each file is computed once per process and kept.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';

export interface FileOption {
  optionKey: string;
  optionTitle: string;
  languageName: string;
  fileType: string;
  sizeBytes: number;
}

export interface FileInfo {
  size: number;
  /** SHA-256 of the whole file, hex */
  sha256: string;
}

export interface FileStore {
  /** size and digest of an option's file (the digest is computed on first use, then kept) */
  describe(option: FileOption): Promise<FileInfo>;
  /** the bytes `start` to `end`, both included */
  stream(option: FileOption, start: number, end: number): Readable;
}

const CHUNK = 64 * 1024;
const ZEROES = Buffer.alloc(CHUNK + 16);

export interface FileStoreOptions {
  /** the size of the file of an option (default: the catalog's `sizeBytes`); the benchmark serves bigger ones */
  sizeOf?: (option: FileOption) => number;
}

export function createStandInFiles(opts: FileStoreOptions = {}): FileStore {
  const sizeOf = opts.sizeOf ?? ((o: FileOption) => o.sizeBytes);
  const digests = new Map<string, Promise<FileInfo>>();

  const headerOf = (o: FileOption, size: number) =>
    Buffer.from(`CSP-DESK STAND-IN IMAGE\r\noption: ${o.optionKey}\r\nversion: ${o.optionTitle}\r\nlanguage: ${o.languageName}\r\nfile type: ${o.fileType}\r\nsize: ${size} bytes\r\n\r\n`, 'utf8');
  const keyOf = (o: FileOption) => crypto.createHash('sha256').update(`csp-desk stand-in image\0${o.optionKey}`).digest();
  /** AES-CTR counter block for block number `block` (the counter is the whole 128-bit IV, big-endian) */
  const ivOf = (block: number) => {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(Math.floor(block / 2 ** 64)), 0);
    iv.writeBigUInt64BE(BigInt(block) & 0xffffffffffffffffn, 8);
    return iv;
  };

  function stream(o: FileOption, start: number, end: number): Readable {
    const size = sizeOf(o);
    if (start < 0 || end >= size || start > end + 1) throw new RangeError(`bytes ${start}-${end} are outside a file of ${size} bytes`);
    const header = headerOf(o, size).subarray(0, size);
    let pos = start;
    let cipher: crypto.Cipheriv | null = null;
    return new Readable({
      highWaterMark: CHUNK,
      read() {
        if (pos > end) {
          this.push(null);
          return;
        }
        if (pos < header.length) {
          const upto = Math.min(header.length, end + 1);
          this.push(header.subarray(pos, upto));
          pos = upto;
          return;
        }
        const offset = pos - header.length;
        const n = Math.min(CHUNK, end + 1 - pos);
        if (!cipher) {
          // start at the block holding `offset`, and drop the bytes of that block before it
          cipher = crypto.createCipheriv('aes-256-ctr', keyOf(o), ivOf(Math.floor(offset / 16)));
          const skip = offset % 16;
          const first = cipher.update(ZEROES.subarray(0, skip + n)).subarray(skip);
          pos += n;
          this.push(first);
          return;
        }
        pos += n;
        this.push(cipher.update(ZEROES.subarray(0, n)));
      },
    });
  }

  async function computeDigest(o: FileOption): Promise<FileInfo> {
    const size = sizeOf(o);
    const hash = crypto.createHash('sha256');
    if (size > 0) for await (const chunk of stream(o, 0, size - 1)) hash.update(chunk as Buffer);
    return { size, sha256: hash.digest('hex') };
  }

  return {
    describe(o) {
      const key = `${o.optionKey}:${sizeOf(o)}`;
      let p = digests.get(key);
      if (!p) {
        p = computeDigest(o);
        digests.set(key, p);
        p.catch(() => digests.delete(key));
      }
      return p;
    },
    stream,
  };
}
