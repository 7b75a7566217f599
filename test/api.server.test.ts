/** The API's HTTP server (api/server.ts): requests and responses born with the app's prototypes. */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { createAppServer, keepAliveLimits, serveApp, stopServer } from '../api/server';
import { configSchema } from '../lib/config';
import type { Logger } from '../lib/logger';

interface Seen {
  requestAtBirth: object | null;
  responseAtBirth: object | null;
}

/** GET `path` on its own connection (the server listens on a free port first, if it does not yet). */
async function get(server: http.Server, path: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

/** Records the prototypes a request and its response have when the server makes them, before the app sees them. */
function watchBirth(server: http.Server): Seen {
  const seen: Seen = { requestAtBirth: null, responseAtBirth: null };
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.requestAtBirth = Object.getPrototypeOf(req) as object;
    seen.responseAtBirth = Object.getPrototypeOf(res) as object;
  });
  return seen;
}

function jsonApp(name: string): express.Express {
  const app = express();
  app.locals.name = name;
  app.get('/who', (req, res) => {
    res.json({ app: (req.app.locals as { name: string }).name, sameApp: req.app === res.app, query: req.query });
  });
  return app;
}

describe('the API server (requests born with the app’s prototypes)', () => {
  const servers: http.Server[] = [];
  const track = (s: http.Server) => (servers.push(s), s);
  after(async () => {
    for (const s of servers) if (s.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('when a request arrives, then it and its response already have the app’s prototypes, so Express has nothing to change', async () => {
    const app = jsonApp('one');
    const server = track(createAppServer(app));
    const seen = watchBirth(server);
    const res = await get(server, '/who?x=1');
    expect(res.status).to.equal(200);
    expect(JSON.parse(res.body)).to.deep.equal({ app: 'one', sameApp: true, query: { x: '1' } });
    expect(res.headers['content-type']).to.equal('application/json; charset=utf-8');
    expect(res.headers.etag, 'Express’s own res.json, ETag and all').to.match(/^W\/"/);
    expect(seen.requestAtBirth).to.equal(app.request);
    expect(seen.responseAtBirth).to.equal(app.response);
    // Express's methods and the node:http ones are both behind them
    expect(app.request).to.be.instanceOf(http.IncomingMessage);
    expect(app.response).to.be.instanceOf(http.ServerResponse);
  });

  it('when a plain node:http server serves the same app, then its requests are born plain (what the server above avoids)', async () => {
    const app = jsonApp('plain');
    const server = track(http.createServer(app));
    const seen = watchBirth(server);
    const res = await get(server, '/who');
    expect(res.status).to.equal(200);
    expect(seen.requestAtBirth).to.equal(http.IncomingMessage.prototype);
    expect(seen.requestAtBirth).not.to.equal(app.request);
  });

  it('when two apps are served by two servers in one process, then each request sees its own app', async () => {
    const a = track(createAppServer(jsonApp('a')));
    const b = track(createAppServer(jsonApp('b')));
    expect(JSON.parse((await get(a, '/who')).body).app).to.equal('a');
    expect(JSON.parse((await get(b, '/who')).body).app).to.equal('b');
    expect(JSON.parse((await get(a, '/who')).body).app).to.equal('a');
  });

  it('when the app is served by a second such server, then that is refused (the first would go back to a prototype change)', () => {
    const app = jsonApp('twice');
    track(createAppServer(app));
    expect(() => createAppServer(app)).to.throw(/served by another server already/);
  });

  it('when the app adds to its request before it is served, then every request has it, inside a sub-app mounted before too', async () => {
    const inner = express();
    inner.get('/probe', (req, res) => {
      res.json({ added: (req as unknown as { addedBefore?: () => string }).addedBefore?.() ?? null });
    });
    const outer = express();
    outer.use('/in', inner);
    outer.get('/probe', (req, res) => {
      res.json({ added: (req as unknown as { addedBefore?: () => string }).addedBefore?.() ?? null });
    });
    (outer.request as unknown as { addedBefore: () => string }).addedBefore = () => 'seen';
    const server = track(createAppServer(outer));
    expect(JSON.parse((await get(server, '/probe')).body)).to.deep.equal({ added: 'seen' });
    expect(JSON.parse((await get(server, '/in/probe')).body)).to.deep.equal({ added: 'seen' });
  });

  it('when a sub-app is mounted, then a request entering it sees the sub-app and, back out, the outer app again', async () => {
    const inner = jsonApp('inner');
    const outer = express();
    outer.locals.name = 'outer';
    let afterInner: string | null = null;
    outer.use('/in', inner);
    outer.use((req, res) => {
      afterInner = (req.app.locals as { name: string }).name;
      res.status(404).json({ app: afterInner });
    });
    const server = track(createAppServer(outer));
    expect(JSON.parse((await get(server, '/in/who')).body).app).to.equal('inner');
    const miss = await get(server, '/in/nothing');
    expect(miss.status).to.equal(404);
    expect(afterInner).to.equal('outer');
  });

  it('when the app is given after listening (to learn the port first), then it serves from then on; a second app or a server made elsewhere is refused', async () => {
    const server = track(createAppServer());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const app = jsonApp('later');
    serveApp(server, app);
    const seen = watchBirth(server);
    expect(JSON.parse((await get(server, '/who')).body).app).to.equal('later');
    expect(seen.requestAtBirth).to.equal(app.request);
    expect(() => serveApp(server, jsonApp('again'))).to.throw(/already serves an app/);
    expect(() => serveApp(http.createServer(), jsonApp('foreign'))).to.throw(/not made by createAppServer/);
  });

  it('when the API keeps idle connections N s (HTTP_KEEP_ALIVE_TIMEOUT_SECONDS), then it tells keep-alive clients so, for every N the configuration allows', async () => {
    const { minimum, maximum } = configSchema.properties.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS;
    for (const seconds of [minimum, configSchema.properties.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS.default, maximum]) {
      const server = track(createAppServer(jsonApp('kept'), { limits: keepAliveLimits(seconds) }));
      expect(server.headersTimeout, "Node's own headers timeout: a slow client is given no longer").to.equal(60_000);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const agent = new http.Agent({ keepAlive: true });
      const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/who', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.headers['keep-alive'])));
          })
          .on('error', reject);
      });
      agent.destroy();
      expect(keepAlive).to.equal(`timeout=${seconds}`);
    }
  });

  it('when the server stops while a keep-alive request is under way, then that answer ends its connection, an idle one closes at once, and the server finishes closing; one that never ends is cut after the grace', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const app = jsonApp('stopping');
    app.get('/slow', async (_req, res) => {
      await held;
      res.json({ done: true });
    });
    const server = track(createAppServer(app, { limits: keepAliveLimits(65) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    // (an agent each: the idle connection must not be the one the slow request goes on)
    const agents = [new http.Agent({ keepAlive: true }), new http.Agent({ keepAlive: true })];
    const get = (path: string, agent: http.Agent) =>
      new Promise<{ connection: string | undefined; socket: net.Socket }>((resolve, reject) => {
        let socket: net.Socket;
        http
          .get({ host: '127.0.0.1', port, path, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ connection: res.headers.connection, socket }));
          })
          .on('socket', (s) => (socket = s))
          .on('error', reject);
      });
    // an idle keep-alive connection, then a request under way on another
    const idle = await get('/who', agents[0]);
    expect(idle.connection).to.equal('keep-alive');
    const idleClosed = new Promise<void>((resolve) => idle.socket.once('close', () => resolve()));
    const slow = get('/slow', agents[1]);
    await new Promise((r) => setTimeout(r, 100));
    const stopped = stopServer(server, 30_000);
    await idleClosed;
    release();
    expect((await slow).connection, 'the busy connection is told it ends').to.equal('close');
    expect(await stopped).to.deep.equal({ forced: false });
    for (const a of agents) a.destroy();

    // a request that never ends is cut once the grace has run out
    const hangs = jsonApp('hanging');
    hangs.get('/never', () => undefined);
    const other = track(createAppServer(hangs));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const hanging = new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port: (other.address() as AddressInfo).port, path: '/never', agent: false }).on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(await stopServer(other, 200)).to.deep.equal({ forced: true });
    expect(await hanging).to.equal('ECONNRESET');
  });

  describe('when the HTTP parser refuses a request before the app sees it, then the client gets the status Node gives, in the Error shape', () => {
    /** Sends `raw` (its parts 100 ms apart) on a new connection and reads until the server closes it. */
    async function rawExchange(server: http.Server, raw: string | string[]): Promise<{ head: string; body: string }> {
      if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const parts = typeof raw === 'string' ? [raw] : raw;
      const text = await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = net.connect(port, '127.0.0.1', () => parts.forEach((part, i) => setTimeout(() => socket.writable && socket.write(part), i * 100)));
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
        socket.on('error', reject);
      });
      const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
      return { head, body };
    }

    const chunked = 'POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const cases: [string, string | string[], number, string, RegExp][] = [
      ['headers over 16 KiB', `GET /who HTTP/1.1\r\nHost: x\r\nCookie: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large', /^HPE_HEADER_OVERFLOW$/],
      ['a malformed header line', 'GET /who HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 400, 'malformed_request', /^HPE_/],
      ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400, 'malformed_request', /^HPE_/],
      ['a chunk extension over 16 KiB, while the app reads the body', [chunked, `2;${'a'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`], 413, 'chunk_extensions_too_large', /^HPE_CHUNK_EXTENSIONS_OVERFLOW$/],
      ['headers not received in time (the server’s limit: 300 ms here)', ['GET /who HTTP/1.1\r\nHost: x\r\n'], 408, 'request_timeout', /^ERR_HTTP_REQUEST_TIMEOUT$/],
    ];
    for (const [what, raw, status, code, parser] of cases) {
      it(`${what}: ${status} ${code}`, async () => {
        let reached = false;
        const app = jsonApp('parser');
        // a route that reads a body: the request reaches it, the body never does
        app.post('/json', express.json(), () => (reached = true));
        app.use((_err: unknown, _req: express.Request, _res: express.Response, _next: express.NextFunction) => undefined);
        app.use(() => (reached = true));
        const lines: Record<string, unknown>[] = [];
        const log = { info: (o: Record<string, unknown>) => lines.push(o) } as unknown as Logger;
        const server = track(createAppServer(app, { log, limits: { headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 50 } }));
        const { head, body } = await rawExchange(server, raw);
        expect(head.split('\r\n')[0]).to.equal(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`);
        expect(head).to.match(/\r\nContent-Type: application\/json; charset=utf-8\r\n/).and.match(/\r\nConnection: close(\r\n|$)/);
        const error = (JSON.parse(body) as { error: { status: number; code: string; message: string; requestId: string } }).error;
        expect(error).to.include({ status, code });
        expect(error.message).to.be.a('string').and.not.equal('');
        expect(head).to.include(`\r\nX-Request-Id: ${error.requestId}`);
        expect(reached, 'no route answers it').to.equal(false);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.deep.include({ status, code, requestId: error.requestId });
        expect(lines[0].parser).to.match(parser);
      });
    }
  });
});
