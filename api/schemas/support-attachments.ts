/** JSON schemas of support requests' attachments and metrics. */
import { dateTime, int, nullable, obj, str, type S } from './common';

export const supportTicketParam: S = obj({ id: str({ minLength: 1, maxLength: 40, description: 'the support request number, e.g. SR-261125-7K2M9Q' }) });
export const supportAttachmentParams: S = obj({
  id: str({ minLength: 1, maxLength: 40, description: 'the support request number' }),
  attachmentId: int({ minimum: 1, maximum: 1000, description: "the attachment's number on the request (1, 2, ...)" }),
});

export const attachmentSchema: S = obj({
  id: int({ description: "the attachment's number on its support request" }),
  ticketId: str(),
  name: str({ description: 'the file name as uploaded (path and control characters removed)' }),
  downloadName: str({ description: "the name offered on download: `name`, plus the real type's extension when `name` claims another" }),
  contentType: str({ description: "decided from the file's content, never from its name or the Content-Type sent" }),
  size: int({ description: 'bytes' }),
  sha256: str({ pattern: '^[0-9a-f]{64}$' }),
  uploadedBy: obj({ userId: str(), name: str(), role: str() }),
  uploadedAt: dateTime,
  url: str({ description: 'GET it to download the file' }),
});

export const attachmentUploadSchema: S = {
  type: 'object',
  properties: { file: { type: 'string', contentMediaType: 'application/octet-stream', minLength: 1, description: 'the file: one part named "file", with a filename; not empty (`empty_file`)' } },
  required: ['file'],
  // any other part is refused (400 naming it)
  additionalProperties: false,
};

const targetStats = (extra: Record<string, S> = {}) =>
  obj({
    met: int(),
    missed: int(),
    pending: int({ description: 'neither met nor missed yet' }),
    withinTargetShare: nullable({ type: 'number', minimum: 0, maximum: 1, description: 'met / (met + missed); null when neither' }),
    medianSeconds: nullable(int({ description: 'median calendar seconds from filing' })),
    ...extra,
  });

const group: Record<string, S> = {
  tickets: int(),
  firstResponse: targetStats({ withdrawn: int({ description: 'withdrawn by the partner before any answer and before the target passed: in no share' }) }),
  resolution: targetStats({ withdrawn: int({ description: 'withdrawn by the partner: in no share' }) }),
  escalations: int({ description: 'escalated events (by the SLA timers and by hand)' }),
  escalatedTickets: int(),
};

export const supportMetricsSchema: S = obj({
  from: str({ format: 'date' }),
  to: str({ format: 'date' }),
  timeZone: str({ description: 'the zone whose days `from` and `to` are, as named here (Asia/Kolkata is Asia/Calcutta)' }),
  generatedAt: dateTime,
  total: obj(group),
  byImpact: obj({ critical: obj(group), moderate: obj(group), minimal: obj(group) }),
  byAgent: { type: 'array', items: obj({ agent: nullable(obj({ userId: str(), name: str() }) as S & { type: string }), ...group }) },
});
