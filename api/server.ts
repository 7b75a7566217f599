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
 */
import http from 'node:http';
import type express from 'express';

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
export function createAppServer(app?: express.Express): http.Server {
  class AppRequest extends http.IncomingMessage {}
  class AppResponse extends http.ServerResponse<AppRequest> {}
  const server = http.createServer<typeof AppRequest, typeof AppResponse>({ IncomingMessage: AppRequest, ServerResponse: AppResponse });
  prototypesOf.set(server, { request: AppRequest.prototype, response: AppResponse.prototype, served: false });
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
