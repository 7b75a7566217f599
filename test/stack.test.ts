/** The embedded servers themselves: FerretDB via mongoose, the SMTP catcher, port checks. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import mongoose from 'mongoose';
import nodemailer from 'nodemailer';
import { assertPortFree, freePort, isPortFree, PortInUseError } from '../stack/ports';
import { startFerretDB } from '../stack/ferretdb';
import { dotEnvBadLines, embeddedServerUrls, parseDotEnv, pointAtEmbeddedServers } from '../stack/env';
import { acquireLock, StackRunningError } from '../stack/lock';
import { mailbox, startMailCatcher } from '../stack/mailcatcher';
import { TEMPORAL_CLI } from '../stack/paths';
import { postgresLogTail } from '../stack/postgres';
import { tailFile, waitUntil } from '../stack/process';
import { pingTemporal, startTemporalDev, TemporalExitedAtStart } from '../stack/temporal';
import { startTestStack, stopTestStack, type TestStack } from './support/stack';

describe('stack: embedded servers', function () {
  this.timeout(180_000);
  let stack: TestStack;
  let conn: mongoose.Connection;

  before(async () => {
    stack = await startTestStack();
    conn = await mongoose.createConnection(stack.mongoUri, { serverSelectionTimeoutMS: 10_000 }).asPromise();
  });

  after(async () => {
    await conn?.close();
    await stopTestStack();
  });

  it('startTestStack() returns the same instance when called again', async () => {
    const again = await startTestStack();
    try {
      expect(again).to.equal(stack);
    } finally {
      await stopTestStack(); // releases only this call's reference
    }
    expect(stack.mongoUri).to.match(/^mongodb:\/\/.+\/[^/]+$/);
    expect(stack.temporalAddress).to.match(/^[^:\s]+:\d+$/);
  });

  describe('MongoDB wire protocol (FerretDB on PostgreSQL)', () => {
    it('round-trips a mongoose document', async () => {
      const Thing = conn.model(
        'StackThing',
        new mongoose.Schema({ name: String, n: Number, tags: [String], at: Date, nested: { a: Number, b: String } }),
      );
      const at = new Date('2026-01-02T03:04:05.678Z');
      const created = await Thing.create({ name: 'alpha', n: 42, tags: ['x', 'y'], at, nested: { a: 1, b: 'two' } });
      const found = await Thing.findById(created._id).lean();
      expect(found).to.not.equal(null);
      expect(found!.name).to.equal('alpha');
      expect(found!.n).to.equal(42);
      expect(found!.tags).to.deep.equal(['x', 'y']);
      expect(found!.at!.toISOString()).to.equal(at.toISOString());
      expect(found!.nested).to.deep.equal({ a: 1, b: 'two' });
      const updated = await Thing.findOneAndUpdate({ _id: created._id }, { $set: { n: 43 } }, { returnDocument: 'after' }).lean();
      expect(updated!.n).to.equal(43);
    });

    it('when another server holds the port FerretDB is to listen on, then it refuses at once, naming the port (rather than take that server for itself)', async () => {
      const other = net.createServer();
      await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
      const port = (other.address() as net.AddressInfo).port;
      try {
        const refused = await startFerretDB({ postgresUrl: stack.postgresUrl!, port, logFile: path.join(os.tmpdir(), `ferretdb-taken-${port}.log`) }).then(() => null, (e: unknown) => e);
        expect(refused).to.be.instanceOf(PortInUseError);
        expect((refused as Error).message).to.equal(`port ${port} (FerretDB) is already in use: stop the process using it or set FERRETDB_PORT=...`);
      } finally {
        other.close();
      }
    });

    it('rejects a duplicate under a unique index (E11000)', async () => {
      const Key = conn.model('StackUniqueKey', new mongoose.Schema({ key: { type: String, unique: true } }));
      await Key.init(); // builds the index
      await Key.create({ key: 'k1' });
      let err: unknown;
      try {
        await Key.create({ key: 'k1' });
      } catch (e) {
        err = e;
      }
      expect(err, 'second insert must fail').to.be.instanceOf(Error);
      expect((err as { code?: number }).code).to.equal(11000);
      expect((err as Error).message).to.match(/E11000/);
      expect(await Key.countDocuments({ key: 'k1' })).to.equal(1);
    });

    it("when PostgreSQL has logged refusals of insert-once writes, then the excerpt shown when it dies leaves them out and says how many", async function () {
      if (!stack.embedded.mongo) this.skip();
      const Key = conn.models.StackUniqueKey ?? conn.model('StackUniqueKey', new mongoose.Schema({ key: { type: String, unique: true } }));
      await Key.init();
      await Key.create({ key: 'k1' }).catch(() => undefined);
      await Key.create({ key: 'k1' }).catch(() => undefined);
      // the real server's log, as it has the refusal (ERROR, DETAIL, STATEMENT)
      const logFile = path.join(stack.dataDir, 'logs', 'postgres.log');
      await waitUntil('the refusal in postgres.log', async () => tailFile(logFile, 50).includes('duplicate key value violates unique constraint'), { timeoutMs: 5000 });
      const excerpt = postgresLogTail(logFile, 12);
      expect(excerpt).to.not.match(/duplicate key|already exists|INSERT INTO/);
      expect(excerpt.split('\n').pop()).to.match(/^\(\d+ duplicate-key errors of insert-once writes left out/);
    });
  });

  it("when connections interleave their refusals in PostgreSQL's log, then the excerpt keeps every other line, each error's own lines with it", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-pglog-')), 'postgres.log');
    const at = (s: number) => `2026-11-28 03:24:58.0${String(s).padStart(2, '0')} UTC`;
    fs.writeFileSync(file, [
      `${at(10)} [3047] STATEMENT:  INSERT INTO x (_jsonb) VALUES ($1)`, // its error is before the excerpt
      `${at(11)} [3047] ERROR:  duplicate key value violates unique constraint "a"`,
      `${at(12)} [3048] ERROR:  duplicate key value violates unique constraint "b"`,
      `${at(13)} [3047] DETAIL:  Key ((_jsonb -> '_id'::text))=("x") already exists.`,
      `${at(14)} [3048] DETAIL:  Key ((_jsonb -> '_id'::text))=("y") already exists.`,
      `${at(15)} [3047] STATEMENT:  INSERT INTO x (_jsonb) VALUES ($1)`,
      `${at(16)} [3048] STATEMENT:  INSERT INTO y (_jsonb)`,
      '\tVALUES ($1)',
      `${at(17)} [3049] ERROR:  relation "z" does not exist`,
      `${at(18)} [3049] STATEMENT:  SELECT * FROM z`,
      `${at(19)} [1] LOG:  received immediate shutdown request`,
      '',
    ].join('\n'));
    try {
      expect(postgresLogTail(file, 12).split('\n')).to.deep.equal([
        `${at(17)} [3049] ERROR:  relation "z" does not exist`,
        `${at(18)} [3049] STATEMENT:  SELECT * FROM z`,
        `${at(19)} [1] LOG:  received immediate shutdown request`,
        '(2 duplicate-key errors of insert-once writes left out: each is a request that lost a race it is meant to lose)',
      ]);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  describe('mail catcher', () => {
    it('receives mail sent with nodemailer (subject, text and HTML parts) and lists it on its web page', async () => {
      // the mailbox is shared with the other tests: no clearing, find our own message
      const transport = nodemailer.createTransport(stack.smtpUrl);
      const subject = `Stack test <${Date.now()}> & "quotes"`;
      try {
        await transport.sendMail({
          from: 'csp-desk <no-reply@csp-desk.local>',
          to: 'Partner <partner@example.com>',
          bcc: 'audit@example.com',
          subject,
          text: 'Hello in plain text.',
          html: '<p>Hello in <b>HTML</b> &amp; "quotes"</p>',
        });
      } finally {
        transport.close();
      }
      const msg = await stack.mailbox.waitFor((m) => m.subject === subject, { timeoutMs: 10_000 });
      expect(msg.to).to.have.members(['partner@example.com', 'audit@example.com']);
      expect(msg.from).to.contain('no-reply@csp-desk.local');
      expect(msg.text.trim()).to.equal('Hello in plain text.');
      expect(msg.html).to.contain('<b>HTML</b>');
      expect(msg.headers['subject']).to.equal(subject);
      expect(msg.messageId).to.match(/^<.+>$/);

      const list = await stack.mailbox.list();
      expect(list.map((m) => m.id)).to.include(msg.id);

      // MailDev's web UI (an Angular page reading the same REST API) and its HTML view of the message
      const index = await fetch(`${stack.mailWebUrl}/`);
      expect(index.status).to.equal(200);
      expect(await index.text()).to.contain('ng-app="mailDevApp"');
      const htmlView = await fetch(`${stack.mailWebUrl}/email/${msg.id}/html`);
      expect(htmlView.status).to.equal(200);
      expect(await htmlView.text()).to.contain('<b>HTML</b>');
    });

    it('accepts SMTP auth with any credentials', async () => {
      const url = new URL(stack.smtpUrl);
      url.username = 'anyone';
      url.password = 'anything';
      const transport = nodemailer.createTransport(url.toString());
      try {
        await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'with auth', text: 'x' });
      } finally {
        transport.close();
      }
      const msg = await stack.mailbox.waitFor((m) => m.subject === 'with auth');
      expect(msg.to).to.deep.equal(['b@example.com']);
    });

    it('keeps messages across a restart (.eml on disk, in a folder for this user only)', async () => {
      const before = await stack.mailbox.list();
      expect(before.length).to.be.greaterThan(0);
      const dir = path.join(stack.dataDir, 'mail');
      expect(fs.existsSync(path.join(dir, `${before[0].id}.eml`))).to.equal(true);
      // the messages hold live sign-in links: their folder is for this user only
      expect(fs.statSync(dir).mode & 0o777).to.equal(0o700);
      const second = await startMailCatcher({ smtpPort: await freePort(), httpPort: await freePort(), dir });
      try {
        const after = await mailbox(second.webUrl).list();
        // every message kept (the running stack may receive more meanwhile: a workflow's late email)
        expect(after.map((m) => m.id)).to.include.members(before.map((m) => m.id));
        const again = await mailbox(second.webUrl).get(before[0].id);
        expect(again.subject).to.equal(before[0].subject);
      } finally {
        await second.stop();
      }
    });

    it('answers 404 for an unknown message', async () => {
      const res = await fetch(`${stack.mailWebUrl}/email/no-such-id`);
      expect(res.status).to.equal(404);
    });
  });

  describe('launcher helpers', () => {
    it('parses .env files', () => {
      expect(parseDotEnv('# c\nA=1\nexport B = two # note\nC="x y"\nD=\'q\'\n\nbad line\nE=a=b')).to.deep.equal({
        A: '1',
        B: 'two',
        C: 'x y',
        D: 'q',
        E: 'a=b',
      });
      // the lines it skips are named, so that npm start stops on them instead of running without them (QA)
      expect(dotEnvBadLines('# c\nA=1\n\nLOG_LEVEL: verbose\nexport B = two\nSUPPORT_APPROVAL_LIMIT 100\n')).to.deep.equal([
        { line: 4, text: 'LOG_LEVEL: verbose' },
        { line: 6, text: 'SUPPORT_APPROVAL_LIMIT 100' },
      ]);
    });

    it('when the embedded servers are given other ports, then the app is pointed at them (a second stack runs beside the first)', () => {
      expect(embeddedServerUrls({ temporal: 7301, ferretdb: 27101, smtp: 1101 })).to.deep.equal({
        TEMPORAL_ADDRESS: '127.0.0.1:7301',
        MONGODB_URI: 'mongodb://127.0.0.1:27101/csp-desk',
        SMTP_URL: 'smtp://127.0.0.1:1101',
      });
      // the defaults are the ones .env.example gives for the URLs it leaves commented out
      const example = fs.readFileSync(path.join(__dirname, '..', '..', '.env.example'), 'utf8');
      const urls = embeddedServerUrls({ temporal: 7233, ferretdb: 27018, smtp: 1025 });
      for (const [k, v] of Object.entries(urls)) expect(example, k).to.contain(`# ${k}=${v}`);
      for (const k of ['TEMPORAL_PORT=7233', 'FERRETDB_PORT=27018', 'SMTP_PORT=1025']) expect(example).to.contain(k);
      // the other commands (npm run users) reach the same stack: a URL left unset follows its port, a URL set stays
      const env: NodeJS.ProcessEnv = { FERRETDB_PORT: '27101', SMTP_URL: 'smtp://mail.example:25' };
      pointAtEmbeddedServers(env, { TEMPORAL_PORT: '7233', FERRETDB_PORT: '27018', SMTP_PORT: '1025' });
      expect(env).to.include({ MONGODB_URI: 'mongodb://127.0.0.1:27101/csp-desk', TEMPORAL_ADDRESS: '127.0.0.1:7233', SMTP_URL: 'smtp://mail.example:25' });
    });

    it('refuses a second start while one runs and removes a stale lock', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-lock-'));
      const file = path.join(dir, 'stack.lock');
      const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      try {
        fs.writeFileSync(file, JSON.stringify({ pid: other.pid, startedAt: new Date().toISOString(), children: [] }));
        let err: unknown;
        try {
          await acquireLock(file);
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(StackRunningError);
        expect((err as Error).message).to.contain(`already running (pid ${other.pid}`);

        other.kill('SIGKILL');
        await new Promise((r) => other.once('exit', r));
        const lock = await acquireLock(file); // stale: taken silently
        expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).to.equal(process.pid);
        lock.release();
        expect(fs.existsSync(file)).to.equal(false);
      } finally {
        other.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the Temporal dev server at start', () => {
    // The CLI picks its internal ports itself and, when one is taken before it binds it, panics at start
    // (temporalio/cli#543, #564). A wrapper stands for that CLI: it panics as the CLI does (its message first, then
    // a goroutine dump longer than a log's tail) on its first `fails` starts, then runs the real CLI.
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-temporal-start-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function flakyCli(fails: number, goroutines = 4000): string {
      const dump = Array.from({ length: goroutines }, (_, i) => `goroutine ${i + 1} [select]:\n\tgo.temporal.io/server/common.(*x).run(...)`).join('\n');
      fs.writeFileSync(path.join(dir, 'dump.txt'), `${dump}\n`);
      const cli = path.join(dir, 'temporal');
      fs.writeFileSync(
        cli,
        [
          '#!/bin/sh',
          `n=$(cat "${dir}/starts" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "${dir}/starts"`,
          `if [ $n -le ${fails} ]; then`,
          '  echo "panic: failed assigning ephemeral port: failed to assign a free port: dial tcp 127.0.0.1:41234: connect: cannot assign requested address" >&2',
          `  cat "${dir}/dump.txt" >&2; exit 2`,
          'fi',
          `exec "${TEMPORAL_CLI}" "$@"`,
        ].join('\n'),
        { mode: 0o755 },
      );
      return cli;
    }
    const starts = () => Number(fs.readFileSync(path.join(dir, 'starts'), 'utf8'));

    it('a server that panics at start is started once more, and the first start\'s panic is told first', async () => {
      const told: string[] = [];
      const port = await freePort();
      const logFile = path.join(dir, 'temporal.log');
      let second = 0;
      const t = await startTemporalDev({ dbFile: path.join(dir, 'temporal.db'), port, uiPort: null, logFile, command: flakyCli(1), onRetry: (m) => told.push(m), anotherPort: async () => (second = await freePort()) });
      try {
        expect(starts()).to.equal(2);
        // on the port the stack picked for the second start (the first one's may have been the one taken)
        expect(second).to.not.equal(0);
        expect(t.address).to.equal(`127.0.0.1:${second}`);
        expect(await pingTemporal(t.address)).to.equal(true);
        expect(told).to.have.length(1);
        expect(told[0]).to.match(/^the Temporal dev server exited at start; see .*temporal\.log:\npanic: failed assigning ephemeral port: /);
        expect(told[0]).to.match(/starting it once more$/);
        // both starts are in the log, the panic with them
        const log = fs.readFileSync(logFile, 'utf8');
        expect(log.match(/^=== .* temporal: /gm)).to.have.length(2);
        expect(log).to.contain('panic: failed assigning ephemeral port');
      } finally {
        await t.stop();
      }
    });

    it('a server that panics at its second start too is refused with that panic, after two starts and no more', async () => {
      const told: string[] = [];
      let err: unknown;
      try {
        await startTemporalDev({ dbFile: path.join(dir, 'temporal.db'), port: await freePort(), uiPort: null, logFile: path.join(dir, 'temporal.log'), command: flakyCli(5), onRetry: (m) => told.push(m) });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(TemporalExitedAtStart);
      expect((err as Error).message).to.contain('\npanic: failed assigning ephemeral port');
      // the dump's last lines follow the panic, so both ends are seen
      expect((err as Error).message).to.match(/\n\.\.\.\n(.|\n)*goroutine 4000 \[select\]/);
      expect(told).to.have.length(1);
      expect(starts()).to.equal(2);
    });

    it('a short exit is told whole, each line once; with no retry wanted (the stack shutting down), it is not started again', async () => {
      let err: unknown;
      try {
        await startTemporalDev({ dbFile: path.join(dir, 'temporal.db'), port: await freePort(), uiPort: null, logFile: path.join(dir, 'temporal.log'), command: flakyCli(5, 2), retryWhile: () => false });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(TemporalExitedAtStart);
      expect((err as Error).message.split('\n').slice(1)).to.deep.equal([
        'panic: failed assigning ephemeral port: failed to assign a free port: dial tcp 127.0.0.1:41234: connect: cannot assign requested address',
        'goroutine 1 [select]:',
        '\tgo.temporal.io/server/common.(*x).run(...)',
        'goroutine 2 [select]:',
        '\tgo.temporal.io/server/common.(*x).run(...)',
      ]);
      expect(starts()).to.equal(1);
    });
  });

  describe('ports', () => {
    it('assertPortFree throws a clear message when the port is in use', async () => {
      const port = await freePort();
      const srv = net.createServer();
      await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
      try {
        expect(await isPortFree(port)).to.equal(false);
        let err: Error | undefined;
        try {
          await assertPortFree(port, 'API', 'PORT');
        } catch (e) {
          err = e as Error;
        }
        expect(err?.message).to.equal(`port ${port} (API) is already in use: stop the process using it or set PORT=...`);
      } finally {
        await new Promise<void>((r) => srv.close(() => r()));
      }
      await assertPortFree(port, 'API', 'PORT');
    });
  });
});
