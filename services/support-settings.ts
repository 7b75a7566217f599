/**
 * Support settings: the SLA policy (a JSON file, validated at start-up) and the ticket rules. Imports only the
 * domain, so that `npm start` checks the policy file before it starts any server, as the API and worker read it.
 */
import fs from 'node:fs';
import Ajv from 'ajv';
import { DEFAULT_FILINGS_PER_HOUR, DEFAULT_TICKET_RULES, type TicketRules } from '../domain/support';
import { checkSlaPolicy, DEFAULT_SLA_POLICY, SLA_POLICY_SCHEMA, type SlaPolicy } from '../domain/sla';

export interface SupportSettings {
  policy: SlaPolicy;
  rules: TicketRules;
  /** support requests one user may file in a UTC hour (SUPPORT_FILINGS_PER_HOUR); null: no limit (the demo seed's own filings) */
  filingsPerHour: number | null;
}

export const DEFAULT_SUPPORT_SETTINGS: SupportSettings = { policy: DEFAULT_SLA_POLICY, rules: DEFAULT_TICKET_RULES, filingsPerHour: DEFAULT_FILINGS_PER_HOUR };

/** Reads and validates the policy file (none: the built-in policy); throws one clear line naming what is wrong. */
export function loadSupportSettings(config: { SUPPORT_POLICY_FILE?: string; SUPPORT_APPROVAL_LIMIT?: number; SUPPORT_REOPEN_DAYS?: number; SUPPORT_FILINGS_PER_HOUR?: number }): SupportSettings {
  let policy = DEFAULT_SLA_POLICY;
  const file = config.SUPPORT_POLICY_FILE;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`SUPPORT_POLICY_FILE=${file}: cannot be read as JSON (${(e as Error).message})`);
    }
    const validate = new Ajv({ allErrors: false, strict: true }).compile(SLA_POLICY_SCHEMA);
    if (!validate(parsed)) {
      const err = validate.errors![0];
      throw new Error(`SUPPORT_POLICY_FILE=${file}: ${err.instancePath || '/'} ${err.message}`);
    }
    const problems = checkSlaPolicy(parsed as SlaPolicy);
    if (problems.length) throw new Error(`SUPPORT_POLICY_FILE=${file}: ${problems[0]}`);
    policy = parsed as SlaPolicy;
  }
  return {
    policy,
    rules: { approvalLimit: config.SUPPORT_APPROVAL_LIMIT ?? DEFAULT_TICKET_RULES.approvalLimit, reopenDays: config.SUPPORT_REOPEN_DAYS ?? DEFAULT_TICKET_RULES.reopenDays },
    filingsPerHour: config.SUPPORT_FILINGS_PER_HOUR ?? DEFAULT_FILINGS_PER_HOUR,
  };
}
