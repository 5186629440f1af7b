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
  res.writeHead(statusCode, {
    ...extraHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-request-id': requestId,
  });
  res.end(text);
}
