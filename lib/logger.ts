/** Structured JSON-lines logs (pino) for the API, the worker and the scripts. */
import pino from 'pino';

export type Logger = pino.Logger;

/** JSON lines to stdout, or to `destination` (tests collect them). */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
