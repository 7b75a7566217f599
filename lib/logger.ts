/** Structured JSON-lines logs (pino) for the API, the worker and the scripts. */
import pino from 'pino';
import { requestLogFields } from './request-context';

export type Logger = pino.Logger;

/**
 * JSON lines to stdout, or to `destination` (tests collect them). Inside an API request every line also
 * carries the request's id (and the caller, once authenticated) from the request context.
 */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: requestLogFields,
  };
  return destination ? pino(options, destination) : pino(options);
}
