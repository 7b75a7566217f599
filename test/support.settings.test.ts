/** The support settings: the built-in SLA policy, or a policy file validated with ajv at start-up. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadSupportSettings } from '../services/support';
import { DEFAULT_SLA_POLICY } from '../domain/sla';

describe('support settings (policy file)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-policy-'));
  const write = (name: string, content: unknown) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when no file is configured, then the built-in policy and the configured limits apply', () => {
    const s = loadSupportSettings({ SUPPORT_POLICY_FILE: '', SUPPORT_APPROVAL_LIMIT: 12_345, SUPPORT_REOPEN_DAYS: 3 });
    expect(s.policy).to.equal(DEFAULT_SLA_POLICY);
    expect(s.rules).to.deep.equal({ approvalLimit: 12_345, reopenDays: 3 });
  });

  it('when a valid file is configured, then its calendars and targets are used', () => {
    const policy = { ...DEFAULT_SLA_POLICY, calendars: { business: { timeZone: 'Europe/Berlin', workingDays: [1, 2, 3, 4, 5], start: '08:00', end: '18:00', holidays: ['2026-12-25'] } } };
    const s = loadSupportSettings({ SUPPORT_POLICY_FILE: write('ok.json', policy) });
    expect(s.policy.calendars.business.timeZone).to.equal('Europe/Berlin');
  });

  it('when the file is broken, then one line names the file and what is wrong', () => {
    const cases: [unknown, RegExp][] = [
      ['{ not json', /cannot be read as JSON/],
      [{ ...DEFAULT_SLA_POLICY, warnAtShare: 2 }, /\/warnAtShare must be < 1/],
      [{ ...DEFAULT_SLA_POLICY, calendars: { business: { ...DEFAULT_SLA_POLICY.calendars.business, timeZone: 'Atlantis/Nowhere' } } }, /Atlantis\/Nowhere" is not a known IANA time zone/],
      [{ ...DEFAULT_SLA_POLICY, calendars: {} }, /"business" is not one of the calendars/],
    ];
    cases.forEach(([content, expected], i) => {
      const file = write(`bad-${i}.json`, content);
      expect(() => loadSupportSettings({ SUPPORT_POLICY_FILE: file })).to.throw(expected).with.property('message').that.contains(file).and.not.contain('\n');
    });
    expect(() => loadSupportSettings({ SUPPORT_POLICY_FILE: path.join(dir, 'missing.json') })).to.throw(/cannot be read/);
  });
});
