import type { ErrorBody } from '@app/contracts';
import { OutgoingHttpHeaders, ServerResponse, STATUS_CODES } from 'node:http';

/** Answers with the system's error shape `{ statusCode, error, message, requestId }`. */
export function sendError(
  res: ServerResponse,
  statusCode: number,
  message: string,
  requestId: string,
  extraHeaders?: OutgoingHttpHeaders,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: ErrorBody = {
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message,
    requestId,
  };
  const text = JSON.stringify(body);
  // HTTP/2 forbids Connection (RFC 9113 8.2.2); its stream ends with the answer in any case.
  if (extraHeaders?.connection !== undefined && res.req.httpVersionMajor === 2) {
    extraHeaders = { ...extraHeaders };
    delete extraHeaders.connection;
  }
  res.writeHead(statusCode, {
    ...extraHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-request-id': requestId,
  });
  res.end(text);
}
