/**
 * Configuration from environment variables, validated once at start-up with ajv.
 * A bad or missing value stops the program with one line naming the variable and what it expects.
 * `.env.example` lists every variable with its default; a test keeps the two in step.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { Cron } from 'croner';
import type { FromSchema } from 'json-schema-to-ts';

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'interface the API listens on' },
    PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 3000, description: 'API port (1-65535)' },
    PUBLIC_BASE_URL: { type: 'string', format: 'uri', pattern: '^https?://[^\\s/?#]+/?$', default: 'http://localhost:3000', description: 'base URL of the links in emails and pages: http(s)://host[:port], no path, query or fragment (the pages are served at /app)' },
    HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, maximum: 290, default: 65, description: 'seconds the API keeps an idle keep-alive connection open (1-290): longer than the idle timeout of any load balancer or proxy in front of it (AWS ALB and nginx: 60 s), so that the balancer, not the API, closes an idle connection' },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'log level' },
    TEMPORAL_ADDRESS: { type: 'string', pattern: '^[^\\s:]+:[0-9]+$', default: '127.0.0.1:7233', description: 'Temporal frontend host:port' },
    TEMPORAL_NAMESPACE: { type: 'string', minLength: 1, default: 'default', description: 'Temporal namespace' },
    TEMPORAL_TASK_QUEUE: { type: 'string', minLength: 1, default: 'csp-desk', description: 'Temporal task queue of the worker' },
    MONGODB_URI: { type: 'string', pattern: '^mongodb(\\+srv)?://', default: 'mongodb://127.0.0.1:27018/csp-desk', description: 'MongoDB connection string (mongodb://...)' },
    SMTP_URL: { type: 'string', format: 'smtp-url', default: 'smtp://127.0.0.1:1025', description: 'SMTP server URL: smtp:// or smtps://, a host, an optional port 1-65535 (smtp://user:pass@host:port)' },
    MAIL_FROM: { type: 'string', pattern: '^([^<>@]*<[^<>@\\s]+@[^<>@\\s]+>|[^<>@\\s]+@[^<>@\\s]+)$', default: 'csp-desk <no-reply@csp-desk.local>', description: 'sender of every email: an address, or "Name <address>"' },
    CANCELLATION_REMINDER_DAYS: { type: 'integer', minimum: 0, maximum: 59, default: 7, description: 'days before a cancellation window closes that the partner is reminded' },
    TEMPORAL_UI_URL: { type: 'string', pattern: '^(https?://\\S+)?$', default: '', description: 'the Temporal Web UI (http(s)://...), linked from the pages to an order\'s or ticket\'s workflow; empty: no links' },
    INVOICE_CLOSE_CRON: { type: 'string', format: 'cron', default: '5 0 1 * *', description: 'a cron of five fields (minute hour day-of-month month day-of-week, UTC) for the monthly invoice close, such as "5 0 1 * *"' },
    SUPPORT_POLICY_FILE: { type: 'string', default: '', description: 'path of a JSON SLA policy file for support requests (empty: the built-in policy)' },
    SUPPORT_APPROVAL_LIMIT: { type: 'integer', minimum: 0, default: 50000, description: 'refund approvals above this amount (minor units) need a support lead' },
    SUPPORT_REOPEN_DAYS: { type: 'integer', minimum: 0, maximum: 365, default: 7, description: 'days after resolution during which a partner reply reopens a support request (then it closes)' },
    SUPPORT_FILINGS_PER_HOUR: { type: 'integer', minimum: 1, maximum: 100000, default: 30, description: 'support requests one user may file in a UTC hour; one more is refused with 429 until the next hour' },
    ATTACHMENT_MAX_BYTES: { type: 'integer', minimum: 1024, maximum: 104857600, default: 10485760, description: 'largest attachment of a support request, in bytes (1 KiB to 100 MiB)' },
    ATTACHMENT_MAX_PER_TICKET: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'most attachments on one support request (1 to 100)' },
  },
  required: [],
} as const;

/** The configuration's type, derived from its schema (a property with a default is always present). */
export type Config = FromSchema<typeof configSchema>;

export type ConfigKey = keyof typeof configSchema.properties;
export const CONFIG_KEYS = Object.keys(configSchema.properties) as ConfigKey[];

/**
 * A value with a URL's user and password hidden (`smtps://***@mail.example.com:465`), for anything a person or a log
 * reads: a configuration error, a banner line, a "cannot reach" message. Everything before the last `@` ahead of the
 * query is hidden, whatever it holds (a space, a quote, a `/` that makes the value malformed); an `@` in the query of
 * a valid URL (`?appName=ops@corp`) names no credentials and is kept, but in a value that is not a valid URL the
 * query may be a password's tail (`smtp://u:pa?ss@host`), so everything up to its last `@` is hidden. A value with no
 * `scheme://` is returned as it is.
 */
export function redactCredentials(value: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([\s\S]*)$/i.exec(value);
  if (!m) return value;
  const [, scheme, rest] = m;
  const query = rest.search(/[?#]/);
  const at = (query === -1 ? rest : rest.slice(0, query)).lastIndexOf('@');
  if (at !== -1) return `${scheme}***${rest.slice(at)}`;
  if (rest.includes('@') && !URL.canParse(value)) return `${scheme}***${rest.slice(rest.lastIndexOf('@'))}`;
  return value;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * A cron Temporal's Schedules take: five fields, numbers in range (croner checks them: "61 * * * *" is refused), and
 * no extensions Temporal lacks (`L`, `W`, `#`, `?`); names only for months and weekdays.
 */
export function isFiveFieldCron(value: string): boolean {
  if (!/^[0-9*/,-]+ [0-9*/,-]+ [0-9*/,-]+ [0-9A-Za-z*/,-]+ [0-9A-Za-z*/,-]+$/.test(value)) return false;
  const [, , , month, weekday] = value.split(' ');
  if (/[A-Za-z]/.test(month) && !/^([A-Za-z]{3}|[0-9*/,-])+$/.test(month)) return false;
  if (/[A-Za-z]/.test(weekday) && !/^([A-Za-z]{3}|[0-9*/,-])+$/.test(weekday)) return false;
  try {
    new Cron(value, { paused: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * An SMTP server's URL as nodemailer takes it: smtp:// or smtps://, a host, and a port that is one if given (QA:
 * `smtp://127.0.0.1:notaport` passed the old prefix check and stopped the API with "Invalid URL" blaming Temporal;
 * `smtp://` ran on with no server to send to).
 */
export function isSmtpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '' && (u.port === '' || (Number(u.port) >= 1 && Number(u.port) <= 65535));
  } catch {
    return false;
  }
}

/** Reads and validates the configuration; throws ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const ajv = new Ajv({ useDefaults: true, coerceTypes: true, allErrors: false });
  addFormats(ajv);
  ajv.addFormat('cron', isFiveFieldCron);
  ajv.addFormat('smtp-url', isSmtpUrl);
  const validate = ajv.compile(configSchema);
  const input: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') input[key] = raw;
  }
  if (!validate(input)) {
    const err = validate.errors![0];
    const variable = err.instancePath.replace(/^\//, '') || String(err.params && (err.params as { missingProperty?: string }).missingProperty);
    const prop = (configSchema.properties as Record<string, { description: string }>)[variable];
    const got = env[variable];
    // an enum says its values (ajv says only "one of the allowed values")
    const allowed = err.keyword === 'enum' ? `: ${((err.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(', ')}` : '';
    // (the value said as given, its credentials hidden: the line goes to a terminal, a process manager's log)
    throw new ConfigError(variable, `configuration: ${variable}=${JSON.stringify(got === undefined ? got : redactCredentials(got))} is invalid: it ${err.message}${allowed}; expected ${prop?.description ?? 'a valid value'}`);
  }
  return input as unknown as Config;
}

/** For process entry points: load or print one clear line and exit with status 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}
