/** Temporal connections and the SDK's logging, shared by the processes, the tests and the benchmark. */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address, connectTimeout: '10s' });
  return new Client({ connection, namespace });
}

/** Sends the SDK's own logs (workflow `log`, worker lifecycle) through pino as JSON lines. */
export function installRuntimeLogger(log: Logger, level: LogLevel = 'INFO', coreLevel: LogLevel = 'WARN'): void {
  Runtime.install({
    // the SDK core's own (Rust) logs are forwarded too, at `coreLevel` and above
    telemetryOptions: { logging: { filter: { core: coreLevel, other: 'ERROR' }, forward: {} } },
    logger: new DefaultLogger(level, (entry) => {
      const fields = { ...(entry.meta ?? {}), sdk: true };
      const msg = entry.message;
      if (entry.level === 'ERROR') log.error(fields, msg);
      else if (entry.level === 'WARN') log.warn(fields, msg);
      else if (entry.level === 'DEBUG' || entry.level === 'TRACE') log.debug(fields, msg);
      else log.info(fields, msg);
    }),
  });
}

export { NativeConnection };
