/**
 * The HTTP server for the Express app.
 *
 * Express gives every request and response its app's prototypes (`app.request`, `app.response`) with
 * `Object.setPrototypeOf` as the request enters (`app.handle`). Changing the prototype of an object V8 has already
 * shaped costs far more than the call: the HTTP server's own code that touches the request and response afterwards
 * runs slower (expressjs/express#5998, nodejs/node#37457). Measured on this project's machine, Node 20, one Express
 * route answering JSON: about 125 µs of CPU per request with the plain `http.createServer(app)`, about 35 µs with
 * the server below, and about 30 µs for a bare `node:http` handler.
 *
 * So the server made here builds its requests and responses from classes whose prototypes are the app's own: the
 * app's `request` and `response` become those prototypes (Express's methods behind them, the app's own properties
 * on them), and Express's `setPrototypeOf` finds nothing to change. Nothing else differs: the same app, the same
 * middleware, the same answers. A request entering a mounted sub-app still changes prototypes, as Express does.
 *
 * What the HTTP parser refuses before any request exists (headers over Node's 16 KiB, a malformed request, a request
 * not received in time) is answered here, with the status Node would give, in the API's Error shape.
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
}

const prototypesOf = new WeakMap<http.Server, Prototypes>();

/**
 * An HTTP server for `app`. Without `app` the server has no handler yet (listen first, e.g. to learn the port the
 * app's links need), and `serveApp` gives it one.
 */
export function createAppServer(app?: express.Express, opts: { log?: Logger } = {}): http.Server {
  class AppRequest extends http.IncomingMessage {}
  class AppResponse extends http.ServerResponse<AppRequest> {}
  const server = http.createServer<typeof AppRequest, typeof AppResponse>({ IncomingMessage: AppRequest, ServerResponse: AppResponse });
  prototypesOf.set(server, { request: AppRequest.prototype, response: AppResponse.prototype, served: false });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, opts.log));
  if (app) serveApp(server, app);
  return server;
}

/** Hands the requests of a server made by `createAppServer` to `app` (once: one app per server). */
export function serveApp(server: http.Server, app: express.Express): void {
  const prototypes = prototypesOf.get(server);
  if (!prototypes) throw new Error('serveApp: the server was not made by createAppServer');
  if (prototypes.served) throw new Error('serveApp: the server already serves an app');
  prototypes.served = true;
  app.request = adopt(prototypes.request, app.request) as express.Request;
  app.response = adopt(prototypes.response, app.response) as express.Response;
  server.on('request', app);
}

/** `own` (a class's prototype) takes the place of `appPrototype`: the same prototype behind it, the same own properties. */
function adopt(own: object, appPrototype: object): object {
  Object.setPrototypeOf(own, Object.getPrototypeOf(appPrototype) as object);
  for (const key of Reflect.ownKeys(appPrototype)) {
    Object.defineProperty(own, key, Object.getOwnPropertyDescriptor(appPrototype, key)!);
  }
  return own;
}

/** The parser's refusals, as Node names them, and what the client is told (Node's own statuses). */
const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    message: "the request's headers are larger than the server takes (16 KiB in all): send fewer or shorter headers (cookies, for one)",
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, code: 'chunk_extensions_too_large', message: "the body's chunk extensions are too large" },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'the request was not received in time: send it again' },
};

/**
 * Node's own answer to a request its parser refused (`clientError`), as JSON in the Error shape: the same status,
 * only when nothing of an answer has gone out on the connection yet, and the connection closed after it.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger | undefined): void {
  // the client went away: nobody to answer
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // a response already under way on this connection (keep-alive) must not be corrupted: Node's own rule
  const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (inFlight?.headersSent) {
    socket.destroy(err);
    return;
  }
  const known = err.code ? CLIENT_ERRORS[err.code] : undefined;
  const { status, code, message } = known ?? { status: 400, code: 'malformed_request', message: `the request is not valid HTTP/1.1 (${err.code ?? 'unreadable'})` };
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
