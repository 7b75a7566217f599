/** A small HTTP/1.1 client over a keep-alive agent (one socket per loop of the load). */
import http from 'node:http';

export interface HttpReply {
  status: number;
  text: string;
}

export interface HttpClient {
  request(method: string, path: string, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<HttpReply>;
  /** request() that throws unless the status is `expect`; returns the parsed JSON body */
  json<T = unknown>(method: string, path: string, expect: number, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<T>;
  close(): void;
}

export function httpClient(baseUrl: string, token: string, maxSockets: number): HttpClient {
  const base = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  /**
   * One try. A keep-alive socket the server closes as the request goes out (its idle timeout, Node's 5 s, ending as
   * a round starts) fails with ECONNRESET or EPIPE before any answer: `request` sends such a request once more on a
   * fresh socket when that is safe (a GET or HEAD, or a request with an Idempotency-Key), as Node's documentation of
   * `request.reusedSocket` advises.
   */
  const attempt = (method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown }, fresh = false): Promise<HttpReply> =>
    new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
      const headers: Record<string, string | number> = { authorization: `Bearer ${token}`, accept: 'application/json', ...(opts.headers ?? {}) };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const req = http.request({ host: base.hostname, port: base.port, method, path, headers, agent: fresh ? false : agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(payload);
    });
  const request: HttpClient['request'] = async (method, path, opts = {}) => {
    try {
      return await attempt(method, path, opts);
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { reusedSocket?: boolean };
      const safe = method === 'GET' || method === 'HEAD' || Object.keys(opts.headers ?? {}).some((h) => h.toLowerCase() === 'idempotency-key');
      if (!err.reusedSocket || !safe || (err.code !== 'ECONNRESET' && err.code !== 'EPIPE')) throw e;
      return attempt(method, path, opts, true);
    }
  };
  return {
    request,
    async json<T>(method: string, path: string, expect: number, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<T> {
      const r = await request(method, path, opts);
      if (r.status !== expect) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`);
      return JSON.parse(r.text) as T;
    },
    close() {
      agent.destroy();
    },
  };
}
