/** `.env` files: a simple KEY=VALUE parser (comments, `export `, single or double quotes). */
import fs from 'node:fs';

/** One `KEY=value` line (trimmed), `export ` allowed before it: the key, and the value as written. */
const DOTENV_LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;

/** Parses KEY=VALUE lines; blank lines and `#` comments are skipped; surrounding quotes are removed. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = DOTENV_LINE.exec(line);
    if (!m) continue;
    let value = m[2];
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    } else {
      value = value.replace(/\s+#.*$/, ''); // trailing comment after an unquoted value
    }
    out[m[1]] = value;
  }
  return out;
}

/**
 * The lines of a .env text that are neither blank, a comment nor `KEY=value` (`LOG_LEVEL: verbose`,
 * `SUPPORT_APPROVAL_LIMIT 100`), with their line numbers: parseDotEnv skips them, so npm start says so and stops
 * rather than run without a setting its operator believes is in force (QA).
 */
export function dotEnvBadLines(text: string): { line: number; text: string }[] {
  return text
    .split(/\r?\n/)
    .map((raw, i) => ({ line: i + 1, text: raw.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#') && !DOTENV_LINE.test(l.text));
}

/** Parses a .env file; {} when it does not exist. */
export function readDotEnv(file: string): Record<string, string> {
  return fs.existsSync(file) ? parseDotEnv(fs.readFileSync(file, 'utf8')) : {};
}

/** Copies into `env` the values it does not have yet (a real environment variable wins); returns the keys set. */
export function applyDefaults(env: NodeJS.ProcessEnv, values: Record<string, string>): string[] {
  const set: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (env[k] === undefined) {
      env[k] = v;
      set.push(k);
    }
  }
  return set;
}

/** The port variable of each embedded server, by the URL variable that points at it. */
export const EMBEDDED_PORT_OF = { TEMPORAL_ADDRESS: 'TEMPORAL_PORT', MONGODB_URI: 'FERRETDB_PORT', SMTP_URL: 'SMTP_PORT' } as const;
type ServerUrlKey = keyof typeof EMBEDDED_PORT_OF;

function embeddedServerUrl(key: ServerUrlKey, port: number): string {
  return key === 'TEMPORAL_ADDRESS' ? `127.0.0.1:${port}` : key === 'MONGODB_URI' ? `mongodb://127.0.0.1:${port}/csp-desk` : `smtp://127.0.0.1:${port}`;
}

/** Where the app finds the embedded servers that `npm start` runs on these ports. */
export function embeddedServerUrls(ports: { temporal: number; ferretdb: number; smtp: number }): Record<ServerUrlKey, string> {
  return { TEMPORAL_ADDRESS: embeddedServerUrl('TEMPORAL_ADDRESS', ports.temporal), MONGODB_URI: embeddedServerUrl('MONGODB_URI', ports.ferretdb), SMTP_URL: embeddedServerUrl('SMTP_URL', ports.smtp) };
}

/**
 * Points each server URL that is not set at its embedded server's port (`TEMPORAL_PORT`, `FERRETDB_PORT`,
 * `SMTP_PORT` from `env`, else `defaults`), as `npm start` runs them: what the other commands (`npm run users`) do
 * to reach the same stack.
 */
export function pointAtEmbeddedServers(env: NodeJS.ProcessEnv, defaults: Record<string, string> = {}): void {
  for (const key of Object.keys(EMBEDDED_PORT_OF) as ServerUrlKey[]) {
    if (env[key]) continue;
    const port = Number(env[EMBEDDED_PORT_OF[key]] ?? defaults[EMBEDDED_PORT_OF[key]]);
    if (Number.isInteger(port) && port >= 1 && port <= 65535) env[key] = embeddedServerUrl(key, port);
  }
}
