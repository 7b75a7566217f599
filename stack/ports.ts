/** Port helpers: pick a free loopback port, check that a port is free before starting a server on it. */
import net from 'node:net';

const handedOut = new Set<number>();

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : port;
      srv.close(() => resolve(got));
    });
  });
}

/** A TCP port that is free on `host` now (never the same one twice in this process). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await listenOnce(0, host);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free TCP port');
}

/** True when nothing listens on `host:port` (we could bind it). */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    await listenOnce(port, host);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') return false;
    throw e;
  }
}

/** Error thrown by assertPortFree. */
export class PortInUseError extends Error {
  constructor(readonly port: number, readonly what: string, envVar?: string) {
    super(
      `port ${port} (${what}) is already in use: stop the process using it` +
        (envVar ? ` or set ${envVar}=...` : ' or choose another port'),
    );
    this.name = 'PortInUseError';
  }
}

/**
 * Throws PortInUseError, e.g. "port 3000 (API) is already in use: stop the process using it or set PORT=...",
 * when `host:port` cannot be bound.
 */
export async function assertPortFree(port: number, what: string, envVar?: string, host = '127.0.0.1'): Promise<void> {
  if (!(await isPortFree(port, host))) throw new PortInUseError(port, what, envVar);
}

/** True when something accepts TCP connections on host:port within timeoutMs. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
