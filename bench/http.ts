/**
 * The load generator's HTTP/1.1 client: an undici Pool, one keep-alive connection per loop of the load.
 *
 * The load runs in the benchmark's own process, beside the API it measures, so every microsecond the client spends
 * is taken from the server on this two-core machine; the raw read it is compared with has no client at all. undici
 * is Node's own HTTP client project (the one behind its `fetch`) and is lighter than `node:http`'s client (in a
 * profile, about 650 against 695 µs of this process's CPU per API read: README, *Benchmark*), so less of the client
 * is charged to the API.
 */
import { Pool, errors } from 'undici';

export interface HttpReply {
  status: number;
  text: string;
}

export interface HttpClient {
  request(method: string, path: string, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<HttpReply>;
  /** request() that throws unless the status is `expect`; returns the parsed JSON body */
  json<T = unknown>(method: string, path: string, expect: number, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<T>;
  close(): Promise<void>;
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export function httpClient(baseUrl: string, token: string, connections: number): HttpClient {
  const pool = new Pool(new URL(baseUrl).origin, { connections, pipelining: 1 });
  const attempt = async (method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown }): Promise<HttpReply> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json', ...(opts.headers ?? {}) };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await pool.request({ method: method as Method, path, headers, body });
    return { status: res.statusCode, text: await res.body.text() };
  };
  /**
   * undici closes an idle connection before the server's announced keep-alive timeout runs out; should the server
   * still close one as a request goes out, the request is sent once more when that is safe (a GET or HEAD, or a
   * request with an Idempotency-Key).
   */
  const request: HttpClient['request'] = async (method, path, opts = {}) => {
    try {
      return await attempt(method, path, opts);
    } catch (e) {
      const safe = method === 'GET' || method === 'HEAD' || Object.keys(opts.headers ?? {}).some((h) => h.toLowerCase() === 'idempotency-key');
      if (!safe || !(e instanceof errors.SocketError)) throw e;
      return attempt(method, path, opts);
    }
  };
  return {
    request,
    async json<T>(method: string, path: string, expect: number, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<T> {
      const r = await request(method, path, opts);
      if (r.status !== expect) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`);
      return JSON.parse(r.text) as T;
    },
    // nothing is in flight when a load is over: destroy does not wait for the server to close each connection
    close: () => pool.destroy(),
  };
}
