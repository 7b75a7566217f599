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
import { createOrderActivities } from '../activities/orders';
import { EmailRecord, Order, OrderEvent } from '../models';
import { getTestApp, placeOrder, uniq, waitFor } from './support/app';

describe('emails: refused by the SMTP server', function () {
  this.timeout(60_000);
  const rcpts: string[] = [];
  const delivered: string[][] = [];
  let server: SMTPServer;
  let mailer: ReturnType<typeof createMailer>;
  let sendOnce: SendOnce;
  let releaseSlow!: () => void;
  let slowGate = new Promise<void>((resolve) => (releaseSlow = resolve));
  let slowArrived!: () => void;
  let slowHere = new Promise<void>((resolve) => (slowArrived = resolve));

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
        // what a relay answers when SMTP_URL lacks its credentials: the operator's to mend, not the address's fault
        if (address.address.startsWith('far@')) return callback(Object.assign(new Error('5.7.1 Relay access denied'), { responseCode: 554 }));
        callback();
      },
      onMailFrom(address, _session, callback) {
        if (address.address.startsWith('blocked@')) return callback(Object.assign(new Error('5.7.0 Authentication required'), { responseCode: 530 }));
        callback();
      },
      onData(stream, session, callback) {
        stream.resume();
        stream.on('end', () => {
          delivered.push(session.envelope.rcptTo.map((r) => r.address));
          // a slow server: the end-of-data answer waits (content scanning), as long as the test holds it
          if (session.envelope.rcptTo.some((r) => r.address.startsWith('slow@'))) {
            slowArrived();
            void slowGate.then(() => callback());
            return;
          }
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
    const record = (await EmailRecord.findById(mixed).lean())!;
    expect(record.status).to.equal('sent');
    expect(record.refusal, 'the refused address noted').to.match(/^nobody@partner\.example: 550/);
    // one taken, one refused only for now: the email goes again (with the same Message-ID)
    const half = uniq('half');
    let again: unknown;
    try {
      await sendOnce(half, 'support-received', ['ok@partner.example', 'busy@partner.example'], data);
    } catch (e) {
      again = e;
    }
    expect((again as Error)?.message).to.match(/refused some recipients for now.*busy@partner\.example/);
    expect((await EmailRecord.findById(half).lean())!.status).to.equal('sending');
  });

  it("when an order's email is refused for good, then its timeline says so instead of 'Email sent'", async () => {
    const app = await getTestApp();
    const customer = await app.newCustomer('US');
    const order = await placeOrder(app, customer.id, 'windows-server-standard-perpetual');
    // its notification address mistyped
    await Order.updateOne({ _id: order.id }, { $set: { notify: ['nobody@partner.example'] } });
    const orders = createOrderActivities({ mailer, renderer: createRenderer(), log: app.log, publicBaseUrl: 'http://x' }, sendOnce);
    await orders.sendOrderEmail(order.id, 'reminder');
    const event = await OrderEvent.findOne({ orderId: order.id, type: { $in: ['email-sent', 'email-refused'] }, 'data.kind': 'reminder' }).lean();
    expect(event?.type).to.equal('email-refused');
    // the API's timeline (kept up to 2 s while it lacks the entry the order's state implies) shows it too
    await waitFor(async () => (await app.api('GET', `/orders/${order.id}`)).body.timeline.some((e: { type: string }) => e.type === 'email-refused'), 10_000);
  });

  it('when the sender or the relay is refused (530, 554 5.7.1: credentials missing), then the attempt fails for a retry: nothing is recorded as refused', async () => {
    const blocked = createMailer(`smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, 'csp-desk test <blocked@csp-desk.test>');
    try {
      const fromBlocked = createSendOnce({ mailer: blocked, renderer: createRenderer(), log: (await getTestApp()).log, publicBaseUrl: 'http://x' });
      for (const [send, to] of [
        [fromBlocked, 'ok@partner.example'],
        [sendOnce, 'far@partner.example'],
      ] as const) {
        const key = uniq('config');
        let failed: unknown;
        try {
          await send(key, 'support-received', [to], data);
        } catch (e) {
          failed = e;
        }
        expect(failed, to).to.be.instanceOf(Error);
        expect((await EmailRecord.findById(key).lean())!.status, to).to.equal('sending');
      }
    } finally {
      blocked.close();
    }
  });

  it("when an attempt's send is still under way (a slow end-of-data answer) as the next attempt starts, then the next one waits instead of sending it twice; once the holder is lost, the email goes again to the first attempt's recipients", async () => {
    const key = uniq('slow');
    const first = sendOnce(key, 'support-received', ['slow@partner.example'], data);
    await slowHere;
    // the next attempt (Temporal gave up on the first one, which nodemailer cannot stop): refused, for a retry
    let waited: unknown;
    try {
      await sendOnce(key, 'support-received', ['slow@partner.example'], data);
    } catch (e) {
      waited = e;
    }
    expect((waited as Error)?.message).to.match(/an earlier attempt is still sending the email/);
    releaseSlow();
    expect((await first).sent).to.equal(true);
    expect(delivered.filter((d) => d.includes('slow@partner.example'))).to.have.length(1);
    // a retry after it: already sent
    expect((await sendOnce(key, 'support-received', ['slow@partner.example'], data)).sent).to.equal(false);

    // a holder lost with its worker (its hold lapsed, never renewed): the next attempt sends, to the recipients
    // recorded by the first, not to whoever the caller names now
    const lost = uniq('lost');
    await EmailRecord.create({ _id: lost, messageId: `<${lost}@csp-desk>`, template: 'support-received', to: ['ok@partner.example'], subject: 'S', status: 'sending', createdAt: new Date(), sentAt: null, timeZone: 'UTC', leaseUntil: new Date(Date.now() - 1000) });
    const before = delivered.length;
    expect((await sendOnce(lost, 'support-received', ['someone-else@partner.example'], data)).sent).to.equal(true);
    expect(delivered.slice(before)).to.deep.equal([['ok@partner.example']]);
    slowGate = Promise.resolve();
    slowHere = Promise.resolve();
  });
});
