/** Schemas of customers. */
import { GUID_PATTERN, DOMAIN_PATTERN, dateTime, obj, str } from './common';

export const customerInputSchema = obj({
  name: str({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'not blank' }),
  tenantId: str({ pattern: GUID_PATTERN, description: 'the customer tenant GUID' }),
  domain: str({ pattern: DOMAIN_PATTERN, description: 'e.g. contoso.onmicrosoft.com' }),
  market: str({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
});
export const customerSchema = obj({ id: str(), name: str(), tenantId: str(), domain: str(), market: str(), marketName: str(), currency: str(), createdAt: dateTime });

export const customerRefSchema = obj({ id: str(), name: str(), tenantId: str(), domain: str(), market: str() });

