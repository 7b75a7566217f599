/**
 * The HTTP server for the Express app.
 *
 * Express gives every request and response its app's prototypes (`app.request`, `app.response`) with
 * `Object.setPrototypeOf` as the request enters (`app.handle`). Changing the prototype of an object V8 has already
 * shaped costs far more than the call: the HTTP server's own code that touches the request and response afterwards
 * runs slower (expressjs/express#5998, nodejs/node#37457): README's *Benchmark* has what it cost here.
 *
 * So the server made here builds its requests and responses from classes whose prototypes are the app's own: the
 * app's `request` and `response` become those prototypes (Express's methods behind them, the app's own properties
 * on them), and Express's `setPrototypeOf` finds nothing to change. Nothing else differs: the same app, the same
 * middleware, the same answers. A request entering a mounted sub-app still changes prototypes, as Express does.
 *
 * What the HTTP parser refuses before any request exists (headers over Node's limit, 16 KiB by default, a malformed
 * request, one not received in time, oversized chunk extensions) is answered here, with the status Node would give,
 * in the API's Error shape.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type express from 'express';
import type { Logger } from '../lib/logger';

interface Prototypes {
  request: object;
  response: object;
  served: boolean;
  /** stopServer: every answer from now on ends its connection */
  markStopping: () => void;
}

/** What createAppServer made each server with (its prototypes, its stopping flag). */
const prototypesOf = new WeakMap<http.Server, Prototypes>();
/** Apps already given their server's prototypes: a second server would put Express's prototype change back. */
const servedApps = new WeakSet<express.Express>();

/** Limits of Node's HTTP server that a caller may set (timeouts, the header size); the rest are Node's defaults. */
export type AppServerLimits = Pick<http.ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval' | 'maxHeaderSize' | 'keepAliveTimeout'>;

/**
 * The keep-alive limit of the API's server: an idle connection is kept `seconds` (Node's default is 5 s). Behind a
 * load balancer or proxy that keeps connections to the API for reuse (AWS ALB and nginx: 60 s idle), the API must
 * be the more patient side: otherwise it closes a connection just as the balancer sends a request on it, and the
 * client gets a 502 from the balancer. (Node's headers timeout does not count a connection's idle time between
 * requests, so it keeps its own 60 s: a client sending its headers slowly is not given longer.)
 */
export function keepAliveLimits(seconds: number): AppServerLimits {
  return { keepAliveTimeout: seconds * 1000 };
}

/**
 * Stops the server without cutting a request short: from now on every answer says `Connection: close` (a busy
 * keep-alive connection would otherwise stay open for its next request, and the server would never finish closing),
 * idle connections close at once, and those still open after `graceMs` are closed anyway. Resolves once the server
 * has closed; `forced` says whether the grace ran out.
 */
export function stopServer(server: http.Server, graceMs: number): Promise<{ forced: boolean }> {
  const made = prototypesOf.get(server);
  if (!made) throw new Error('stopServer: the server was not made by createAppServer');
  made.markStopping();
  return new Promise((resolve) => {
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve({ forced });
    });
    server.closeIdleConnections();
  });
}

/**
 * An HTTP server for `app`. Without `app` the server has no handler yet (listen first, e.g. to learn the port the
 * app's links need), and `serveApp` gives it one.
 */
export function createAppServer(app?: express.Express, opts: { log?: Logger; limits?: AppServerLimits } = {}): http.Server {
  class AppRequest extends http.IncomingMessage {}
  class AppResponse extends http.ServerResponse<AppRequest> {}
  // once the server is stopping (stopServer), every answer not yet begun ends its connection, those under way included
  let stopping = false;
  const writeHead = http.ServerResponse.prototype.writeHead as (this: http.ServerResponse, ...args: unknown[]) => http.ServerResponse;
  (AppResponse.prototype as { writeHead: unknown }).writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    if (stopping && !this.headersSent) this.setHeader('Connection', 'close');
    return writeHead.apply(this, args);
  };
  const server = http.createServer<typeof AppRequest, typeof AppResponse>({ ...opts.limits, IncomingMessage: AppRequest, ServerResponse: AppResponse });
  prototypesOf.set(server, { request: AppRequest.prototype, response: AppResponse.prototype, served: false, markStopping: () => (stopping = true) });
  const maxHeaderBytes = opts.limits?.maxHeaderSize ?? http.maxHeaderSize;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, maxHeaderBytes, opts.log));
  if (app) serveApp(server, app);
  return server;
}

/** Hands the requests of a server made by `createAppServer` to `app`: one app per server, one such server per app. */
export function serveApp(server: http.Server, app: express.Express): void {
  const prototypes = prototypesOf.get(server);
  if (!prototypes) throw new Error('serveApp: the server was not made by createAppServer');
  if (prototypes.served) throw new Error('serveApp: the server already serves an app');
  if (servedApps.has(app)) throw new Error('serveApp: the app is served by another server already; make a second app for a second server');
  prototypes.served = true;
  servedApps.add(app);
  app.request = adopt(prototypes.request, app.request) as express.Request;
  app.response = adopt(prototypes.response, app.response) as express.Response;
  server.on('request', app);
}

/**
 * `own` (a class's prototype) takes the place of `appPrototype`: the same prototype behind it, the same own
 * properties, so serve an app once it is set up. A sub-app mounted before keeps the prototype Express chained it to
 * at mount time (the old object, with what it had then): what is added to the app's `request` or `response` after
 * `serveApp` does not reach it. Chaining the old object to `own` would, but cost the benchmark's reads about a tenth
 * of their throughput here (V8 re-optimising the prototype chain), so it is not done.
 */
function adopt(own: object, appPrototype: object): object {
  Object.setPrototypeOf(own, Object.getPrototypeOf(appPrototype) as object);
  for (const key of Reflect.ownKeys(appPrototype)) {
    Object.defineProperty(own, key, Object.getOwnPropertyDescriptor(appPrototype, key)!);
  }
  return own;
}

/** The parser's refusals, as Node names them, and what the client is told (Node's own statuses). */
function clientErrorAnswer(parserCode: string | undefined, maxHeaderBytes: number): { status: number; code: string; message: string } {
  switch (parserCode) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'headers_too_large',
        message: `the request's headers are larger than the server takes (${Math.floor(maxHeaderBytes / 1024)} KiB in all): send fewer or shorter headers (cookies, for one)`,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'chunk_extensions_too_large', message: "the body's chunk extensions are too large" };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'the request was not received in time: send it again' };
    default:
      return { status: 400, code: 'malformed_request', message: `the request is not valid HTTP/1.1 (${parserCode ?? 'unreadable'})` };
  }
}

/**
 * Node's own answer to a request its parser refused (`clientError`), as JSON in the Error shape: the same status,
 * only when nothing of an answer has gone out on the connection yet, and the connection closed after it.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, maxHeaderBytes: number, log: Logger | undefined): void {
  // the client went away (or hung up halfway through a request): nobody to answer
  if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
    socket.destroy();
    return;
  }
  // a response already under way on this connection (keep-alive) must not be corrupted: Node's own rule
  const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (inFlight?.headersSent) {
    socket.destroy(err);
    return;
  }
  const { status, code, message } = clientErrorAnswer(err.code, maxHeaderBytes);
  const requestId = crypto.randomUUID();
  log?.info({ status, code, parser: err.code, requestId }, 'request refused by the HTTP parser');
  const body = JSON.stringify({ error: { status, code, message, requestId } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
    () => socket.destroy(),
  );
}
