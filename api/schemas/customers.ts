/** Schemas of customers. */
import { COUNTRIES } from '../../domain/countries';
import { NAME_PATTERN } from '../../domain/text';
import { GUID_PATTERN, DOMAIN_PATTERN, dateTime, obj, str } from './common';

export const customerInputSchema = obj({
  name: str({ minLength: 1, maxLength: 200, pattern: NAME_PATTERN, description: 'one line with something visible: no line breaks, tabs, bidirectional controls or invisible-only names' }),
  tenantId: str({ pattern: GUID_PATTERN, description: 'the customer tenant GUID' }),
  domain: str({ pattern: DOMAIN_PATTERN, description: 'e.g. contoso.onmicrosoft.com' }),
  market: str({ enum: Object.keys(COUNTRIES).sort(), description: 'the market: an ISO 3166-1 alpha-2 country code (249 official codes, and XK)' }),
});
export const customerSchema = obj({ id: str(), name: str(), tenantId: str(), domain: str(), market: str(), marketName: str(), currency: str(), createdAt: dateTime });

export const customerRefSchema = obj({ id: str(), name: str(), tenantId: str(), domain: str(), market: str() });

