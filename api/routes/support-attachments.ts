/** Attachments of support requests: upload (multipart/form-data), list, download. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas/support-attachments';
import { attachmentHeaders, createAttachmentService, ACCEPTED_TYPES } from '../../services/attachments';
import type { RouteDeps } from './deps';

export function supportAttachmentRoutes(deps: RouteDeps): RouteDef[] {
  const attachments = createAttachmentService(deps.attachments);
  const { maxBytes, maxPerTicket } = attachments.limits;
  const accepted = ACCEPTED_TYPES.map((t) => `${t.label} (\`${t.mime}\`)`).join(', ');
  return [
    defineRoute({
      method: 'post',
      path: '/support-requests/{id}/attachments',
      operationId: 'attachToSupportRequest',
      summary: 'Attach a file to a support request',
      description:
        `One file per request, as multipart/form-data with one part named \`file\`. Its type is decided from its content, not its name: accepted are ${accepted}. ` +
        `At most ${maxBytes} bytes per file and ${maxPerTicket} files per support request (ATTACHMENT_MAX_BYTES, ATTACHMENT_MAX_PER_TICKET). ` +
        'A refused file is not stored. The same bytes attached again to the same request answer 200 with the first attachment (`Idempotent-Replayed: true`).',
      tag: 'support',
      permission: 'readSupportRequests',
      params: S.supportTicketParam,
      multipart: S.attachmentUploadSchema,
      errors: [404, 409, 415],
      errorCodes: { 400: ['empty_file', 'invalid_multipart', 'request_aborted'], 409: ['ticket_closed'], 413: ['attachment_too_large', 'too_many_attachments'], 415: ['unsupported_attachment_type', 'unsupported_content_encoding'] },
      errorDescriptions: {
        400: 'The body is not multipart/form-data with one part named `file` (`validation_failed`, `invalid_multipart`), the file is empty (`empty_file`), or the upload was cut off (`request_aborted`).',
        413: `The file is larger than ${maxBytes} bytes (\`attachment_too_large\`), or the support request has ${maxPerTicket} attachments already (\`too_many_attachments\`).`,
        415: 'The file\'s content is of no accepted type (`unsupported_attachment_type`; `details.detected` says what it is), or the body comes with a `Content-Encoding` (`unsupported_content_encoding`: send it uncompressed). A body that is not multipart/form-data is a 400 naming `body`.',
        409: 'The support request is closed.',
      },
      responses: {
        201: { description: 'the attachment, stored', schema: S.attachmentSchema, headers: { Location: 'the download URL', 'Idempotent-Replayed': '"false"' } },
        200: { description: 'the same bytes were attached to this request already: that attachment', schema: S.attachmentSchema, headers: { Location: 'the download URL', 'Idempotent-Replayed': '"true"' } },
      },
      handler: async ({ auth, params, request }) => {
        const { attachment, replayed } = await attachments.upload(auth, params.id, request);
        return { status: replayed ? 200 : 201, body: attachment, headers: { Location: attachment.url, 'Idempotent-Replayed': String(replayed) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/support-requests/{id}/attachments',
      operationId: 'listSupportRequestAttachments',
      summary: "List a support request's attachments",
      tag: 'support',
      permission: 'readSupportRequests',
      params: S.supportTicketParam,
      errors: [404],
      responses: { 200: { description: 'in the order they were attached', schema: { type: 'array', items: S.attachmentSchema } } },
      handler: async ({ auth, params }) => ({ status: 200, body: await attachments.list(auth, params.id) }),
    }),
    defineRoute({
      method: 'get',
      path: '/support-requests/{id}/attachments/{attachmentId}',
      operationId: 'downloadSupportRequestAttachment',
      summary: 'Download an attachment of a support request',
      description: 'Always as a download (`Content-Disposition: attachment`), with the type decided at upload and `X-Content-Type-Options: nosniff`, so a browser never renders it in the API\'s origin.',
      tag: 'support',
      permission: 'readSupportRequests',
      params: S.supportAttachmentParams,
      errors: [404],
      responses: {
        200: {
          description: 'the file, as the type decided from its content at upload (a PDF, a PNG, plain text, …)',
          contentType: '*/*',
          schema: { type: 'string', format: 'binary' },
          headers: {
            'Content-Disposition': 'attachment; filename="<ASCII fallback>"; filename*=UTF-8\'\'<the download name>',
            'Content-Length': 'bytes',
            'X-Content-Type-Options': 'nosniff',
            'Content-Security-Policy': "`default-src 'none'; sandbox`",
            'Cache-Control': '`private, no-store`',
            ETag: "the file's SHA-256",
          },
        },
      },
      handler: async ({ auth, params }) => {
        const { attachment, stream } = await attachments.open(auth, params.id, params.attachmentId);
        return {
          status: 200,
          body: stream,
          headers: attachmentHeaders(attachment),
        };
      },
    }),
  ];
}
