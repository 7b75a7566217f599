import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { CONFIG_KEYS, ConfigError, loadConfig, redactCredentials } from '../lib/config';

const root = path.resolve(__dirname, '..', '..');

describe('configuration', () => {
  it('when nothing is set, then every default applies', () => {
    const c = loadConfig({});
    expect(c.PORT).to.equal(3000);
    expect(c.CANCELLATION_REMINDER_DAYS).to.equal(7);
    expect(c.MONGODB_URI).to.match(/^mongodb:\/\//);
  });
  it('when a value is bad, then one clear line names the variable and what it expects', () => {
    for (const [key, value, expected] of [
      ['PORT', 'abc', /PORT="abc" is invalid.*API port/],
      ['MONGODB_URI', 'postgres://x', /MONGODB_URI=.*mongodb/],
      ['CANCELLATION_REMINDER_DAYS', '90', /CANCELLATION_REMINDER_DAYS="90"/],
      // the values it takes are said
      ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud" is invalid.*fatal, error, warn, info, debug, trace, silent/],
      ['PORT', '0', /PORT="0" is invalid.*1-65535/],
      ['MAIL_FROM', 'nobody', /MAIL_FROM="nobody" is invalid.*Name <address>/],
      // a minute out of range, and an extension Temporal's Schedules lack: refused here, not by the worker later
      ['INVOICE_CLOSE_CRON', '61 * * * *', /INVOICE_CLOSE_CRON="61 \* \* \* \*" is invalid.*minute hour day-of-month/],
      ['INVOICE_CLOSE_CRON', '5 0 L * *', /INVOICE_CLOSE_CRON="5 0 L \* \*" is invalid/],
      ['INVOICE_CLOSE_CRON', '5 0 1 * * *', /INVOICE_CLOSE_CRON=.* is invalid/],
      // links built on it would be broken
      ['PUBLIC_BASE_URL', 'localhost:3200', /PUBLIC_BASE_URL="localhost:3200" is invalid.*http\(s\):\/\/host/],
      ['PUBLIC_BASE_URL', 'ftp://x', /PUBLIC_BASE_URL="ftp:\/\/x" is invalid/],
      ['PUBLIC_BASE_URL', 'http://localhost:3000?x=1', /PUBLIC_BASE_URL=.* is invalid/],
      ['PUBLIC_BASE_URL', 'http://localhost:3000#top', /PUBLIC_BASE_URL=.* is invalid/],
      // the pages link and redirect from the root (/app/...): a path prefix would break them
      ['PUBLIC_BASE_URL', 'https://example.com/csp-desk', /PUBLIC_BASE_URL=.* is invalid.*no path/],
      // an SMTP URL nodemailer cannot use: refused here, not as "Invalid URL" blamed on Temporal at start (QA)
      ['SMTP_URL', 'smtp://127.0.0.1:notaport', /SMTP_URL="smtp:\/\/127.0.0.1:notaport" is invalid.*a host, an optional port 1-65535/],
      ['SMTP_URL', 'smtp://', /SMTP_URL="smtp:\/\/" is invalid/],
      ['SMTP_URL', 'smtp://127.0.0.1:99999', /SMTP_URL=.* is invalid/],
      ['SMTP_URL', 'http://127.0.0.1:1025', /SMTP_URL=.* is invalid/],
      // a server's password is never said back (the line goes to a terminal or a process manager's log: QA)
      ['SMTP_URL', 'smtps://mailer:Sup3rS3cret@mail.example.com:99999', /^configuration: SMTP_URL="smtps:\/\/\*\*\*@mail.example.com:99999" is invalid/],
      ['MONGODB_URI', 'mongo://dbadmin:Top/S3cret@Pw@db.example.com/csp', /^configuration: MONGODB_URI="mongo:\/\/\*\*\*@db.example.com\/csp" is invalid/],
    ] as const) {
      let err: unknown;
      try {
        loadConfig({ [key]: value });
      } catch (e) {
        err = e;
      }
      expect(err, key).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).variable).to.equal(key);
      expect((err as Error).message).to.match(expected).and.not.contain('\n').and.not.contain('S3cret');
    }
  });
  it('when a server URL is said in a message, then its user and password are hidden, whatever they hold, and nothing else is', () => {
    for (const [raw, shown] of [
      ['smtps://mailer:Sup3rS3cret@mail.example.com:465', 'smtps://***@mail.example.com:465'],
      // a password holding a space, a quote, a slash or an @ (review: a space or a quote had left it whole)
      ['smtp://user:pa ss@mail.example.com', 'smtp://***@mail.example.com'],
      ['smtp://u:pa"ss@h:25', 'smtp://***@h:25'],
      ['mongodb://dbadmin:Top/S3cret@db.example.com:27017/csp', 'mongodb://***@db.example.com:27017/csp'],
      ['mongodb://a:b@c@db.example.com/csp', 'mongodb://***@db.example.com/csp'],
      // a '?' or '#' in a password makes the value malformed: its tail is hidden too
      ['smtp://u:pa?ss@host', 'smtp://***@host'],
      // no credentials: as it is, an '@' in a valid URL's query included (review: the host had been hidden)
      ['mongodb://db.example.com/csp?appName=ops@corp', 'mongodb://db.example.com/csp?appName=ops@corp'],
      ['smtp://127.0.0.1:1025', 'smtp://127.0.0.1:1025'],
      ['127.0.0.1:7233', '127.0.0.1:7233'],
      ['csp-desk <no-reply@csp-desk.local>', 'csp-desk <no-reply@csp-desk.local>'],
    ] as const) expect(redactCredentials(raw), raw).to.equal(shown);
  });
  it('when valid forms of a cron and of a base URL are given, then they are taken', () => {
    for (const cron of ['5 0 1 * *', '*/15 * * * MON-FRI', '0 0 1 JAN,JUL *', '0 0 1-5/2 * 0']) expect(loadConfig({ INVOICE_CLOSE_CRON: cron }).INVOICE_CLOSE_CRON, cron).to.equal(cron);
    // and base URLs with a port or a trailing slash
    for (const url of ['https://desk.example.com', 'http://localhost:3000/']) expect(loadConfig({ PUBLIC_BASE_URL: url }).PUBLIC_BASE_URL, url).to.equal(url);
  });
  it('when npm start is given a bad value (also an unreadable SLA policy file or an unknown HOST), then it says so in one line naming the variable and exits 2 before starting any server', async () => {
    const { spawnSync } = await import('node:child_process');
    for (const [bad, expected] of [
      [{ LOG_LEVEL: 'verbose' }, /\[stack\] configuration: LOG_LEVEL="verbose" is invalid/],
      // the embedded stack's own settings alike
      [{ POSTGRES_PORT: 'abc' }, /\[stack\] configuration: POSTGRES_PORT="abc" is invalid: expected a port number \(1-65535\)/],
      [{ TEMPORAL_UI_PORT: '99999' }, /\[stack\] configuration: TEMPORAL_UI_PORT="99999" is invalid/],
      [{ LOG_MAX_MB: '1.5' }, /\[stack\] configuration: LOG_MAX_MB="1.5" is invalid: expected the size in MiB past which a log file is rotated/],
      // a stray space in PORT is PORT's fault, not that of the PUBLIC_BASE_URL made from it (QA)
      [{ PORT: ' 3105' }, /\[stack\] configuration: PORT=" 3105" is invalid: expected a port number/],
      [{ SMTP_URL: 'smtp://127.0.0.1:notaport' }, /\[stack\] configuration: SMTP_URL="smtp:\/\/127.0.0.1:notaport" is invalid/],
      [{ SMTP_URL: 'smtps://mailer:Sup3rS3cret@mail.example.com:99999' }, /\[stack\] configuration: SMTP_URL="smtps:\/\/\*\*\*@mail.example.com:99999" is invalid/],
      // one the schema takes but no URL parser does (review: npm start said it whole)
      [{ MONGODB_URI: 'mongodb://dbadmin:Top/S3cret@db.example.com:27017/csp' }, /\[stack\] configuration: MONGODB_URI="mongodb:\/\/\*\*\*@db.example.com:27017\/csp" is not a valid address/],
      [{ DATA_DIR: '/etc/hostname/data' }, /\[stack\] configuration: DATA_DIR="\/etc\/hostname\/data" cannot hold the data: \/etc\/hostname is a file/],
      [{ DATA_DIR: '/proc/nope' }, /\[stack\] configuration: DATA_DIR="\/proc\/nope" cannot hold the data: it is inside a system folder/],
      [{ SUPPORT_POLICY_FILE: '/nonexistent/policy.json' }, /\[stack\] configuration: SUPPORT_POLICY_FILE=\/nonexistent\/policy.json: cannot be read as JSON/],
      [{ HOST: 'not_a_host.invalid' }, /\[stack\] configuration: HOST="not_a_host.invalid" is not an address of this machine/],
      // a name or address that exists, but not on this machine
      [{ HOST: '192.0.2.1' }, /\[stack\] configuration: HOST="192.0.2.1" is not an address of this machine \(EADDRNOTAVAIL\)/],
    ] as const) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-badenv-'));
      const run = spawnSync(process.execPath, [path.join(root, 'dist', 'bin', 'start.js')], { env: { PATH: process.env.PATH, DATA_DIR: dataDir, ...bad }, encoding: 'utf8', timeout: 30_000 });
      // (a DATA_DIR of the case's own is never made)
      const said = run.stdout + run.stderr;
      expect(run.status, said).to.equal(2);
      expect(said).to.match(expected).and.not.contain('configuration: configuration:').and.not.contain('S3cret');
      // nothing was started: no database cluster, no lock
      expect(fs.readdirSync(dataDir).filter((f) => f !== 'logs')).to.deep.equal([]);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
  it('.env.example lists every variable with its default', () => {
    const lines = fs.readFileSync(path.join(root, '.env.example'), 'utf8').split('\n');
    // a server URL may be commented out (`# MONGODB_URI=...`): npm start then runs the embedded server
    const assignments = lines.map((l) => l.replace(/^# (?=[A-Z_]+=)/, '')).filter((l) => /^[A-Z_]+=/.test(l));
    const vars = new Map(assignments.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const defaults = loadConfig({});
    for (const key of CONFIG_KEYS) {
      expect(vars.has(key), key).to.equal(true);
      expect(vars.get(key), key).to.equal(String(defaults[key]));
    }
    // PUBLIC_BASE_URL is left commented: a .env copied from it with only PORT changed keeps the links on that PORT
    // (npm start: http://localhost:$PORT unless set), instead of sending sign-in links to port 3000
    expect(lines).to.include('# PUBLIC_BASE_URL=http://localhost:3000');
    expect(lines.filter((l) => l.startsWith('PUBLIC_BASE_URL='))).to.deep.equal([]);
  });
});
