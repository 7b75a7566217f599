/**
 * Send-once (activities/shared.ts) against an SMTP server that refuses some recipients: a refusal for good (5xx)
 * is recorded and not tried again, so no workflow waits forever on an email to a mistyped address; a temporary
 * one (4xx) fails the attempt, for the activity's retry.
 */
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { createSendOnce, type SendOnce } from '../activities/shared';
import { createMailer, createRenderer } from '../lib/mailer';
import { EmailRecord } from '../models';
import { getTestApp, uniq } from './support/app';

describe('emails: refused by the SMTP server', function () {
  this.timeout(60_000);
  const rcpts: string[] = [];
  const delivered: string[][] = [];
  let server: SMTPServer;
  let mailer: ReturnType<typeof createMailer>;
  let sendOnce: SendOnce;

  before(async () => {
    await getTestApp(); // the database
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        rcpts.push(address.address);
        if (address.address.startsWith('nobody@')) return callback(Object.assign(new Error('5.1.1 no such mailbox'), { responseCode: 550 }));
        if (address.address.startsWith('busy@')) return callback(Object.assign(new Error('4.2.1 mailbox busy, try later'), { responseCode: 451 }));
        callback();
      },
      onData(stream, session, callback) {
        stream.resume();
        stream.on('end', () => {
          delivered.push(session.envelope.rcptTo.map((r) => r.address));
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    mailer = createMailer(`smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, 'csp-desk test <no-reply@csp-desk.test>');
    sendOnce = createSendOnce({ mailer, renderer: createRenderer(), log: (await getTestApp()).log, publicBaseUrl: 'http://x' });
  });

  after(async () => {
    mailer?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const data = { ticket: { title: 'T', problemType: 'General question or problem', impact: 'minimal', filedBy: { name: 'Pat', email: 'pat@partner.example' } }, number: 'SR-261126-AAAAAA', partner: { name: 'P' }, ticketUrl: null, firstResponseDue: null };

  it('when the only recipient is refused for good (550), then the email is recorded as refused, not retried, and the next call sends nothing', async () => {
    const key = uniq('refusal');
    expect((await sendOnce(key, 'support-received', ['nobody@partner.example'], data)).sent).to.equal(false);
    const record = (await EmailRecord.findById(key).lean())!;
    expect(record.status).to.equal('refused');
    expect(record.refusal).to.match(/550/);
    const tried = rcpts.length;
    expect((await sendOnce(key, 'support-received', ['nobody@partner.example'], data)).sent).to.equal(false);
    expect(rcpts.length, 'no second attempt').to.equal(tried);
  });

  it('when a recipient is refused only for now (451), then the attempt fails for a retry; one good recipient beside a refused one gets the email', async () => {
    const busy = uniq('busy');
    let failed: unknown;
    try {
      await sendOnce(busy, 'support-received', ['busy@partner.example'], data);
    } catch (e) {
      failed = e;
    }
    expect(failed, 'a temporary refusal fails the attempt').to.be.instanceOf(Error);
    expect((await EmailRecord.findById(busy).lean())!.status).to.equal('sending');
    const mixed = uniq('mixed');
    expect((await sendOnce(mixed, 'support-received', ['ok@partner.example', 'nobody@partner.example'], data)).sent).to.equal(true);
    expect(delivered.at(-1)).to.deep.equal(['ok@partner.example']);
    expect((await EmailRecord.findById(mixed).lean())!.status).to.equal('sent');
  });
});
