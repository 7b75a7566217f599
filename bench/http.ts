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
  const request: HttpClient['request'] = (method, path, opts = {}) =>
    new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
      const headers: Record<string, string | number> = { authorization: `Bearer ${token}`, accept: 'application/json', ...(opts.headers ?? {}) };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const req = http.request({ host: base.hostname, port: base.port, method, path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
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
