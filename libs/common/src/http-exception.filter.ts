import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Inject,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import type { Logger as PinoLogger } from 'pino';
import { DEPENDENCY_UNAVAILABLE_HEADER, type ErrorBody } from '@app/contracts';
import { DependencyUnavailableException } from './dependency-unavailable.exception';
import { APP_PINO } from './request-context.middleware';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id';
import { RetryLaterException } from './retry-later.exception';
import { isStorageUnavailable, StorageUnavailableException } from './storage-failure';

/** Every error leaves as `{ statusCode, error, message, requestId }`; unexpected ones are logged with their stack. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(@Inject(APP_PINO) private readonly logger: PinoLogger) {}

  catch(caught: unknown, host: ArgumentsHost): void {
    const storageDown = isStorageUnavailable(caught);
    if (storageDown) {
      // Logged here, with the driver's own error, since the answer hides it.
      this.logger.error({ err: caught }, 'database cannot take writes; answering 503');
    }
    const exception = storageDown ? new StorageUnavailableException() : caught;
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    // Body-parser errors arrive before the request-context middleware has run.
    const requestId = req.requestId ?? requestIdOf(req);
    const body = this.toBody(exception, requestId);
    // A deliberate "retry later" is load shedding, not a fault: its cause is logged where it is decided.
    if (body.statusCode >= 500 && !(exception instanceof RetryLaterException)) {
      this.logger.error({ err: exception, requestId: body.requestId }, 'request failed');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.setHeader(REQUEST_ID_HEADER, requestId);
    if (exception instanceof RetryLaterException) {
      res.setHeader('Retry-After', String(exception.retryAfterSeconds));
    }
    if (exception instanceof DependencyUnavailableException) {
      res.setHeader(DEPENDENCY_UNAVAILABLE_HEADER, exception.dependency);
    }
    res.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown, requestId: string): ErrorBody {
    if (exception instanceof HttpException) return httpErrorBody(exception, requestId);
    if (isBodyParserError(exception)) {
      return {
        statusCode: exception.status,
        error: STATUS_CODES[exception.status] ?? 'Error',
        message:
          exception.type === 'entity.parse.failed' ? 'body is not valid JSON' : exception.message,
        requestId,
      };
    }
    const statusCode = HttpStatus.INTERNAL_SERVER_ERROR;
    return { statusCode, error: 'Internal Server Error', message: 'internal error', requestId };
  }
}

function isBodyParserError(e: unknown): e is { status: number; type: string; message: string } {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { status?: unknown }).status === 'number' &&
    typeof (e as { type?: unknown }).type === 'string'
  );
}

/** The body every app answers for an `HttpException`: validation messages joined into one line. */
export function httpErrorBody(exception: HttpException, requestId: string): ErrorBody {
  const statusCode = exception.getStatus();
  const response = exception.getResponse();
  let message: string = exception.message;
  let error: string = STATUS_CODES[statusCode] ?? 'Error';
  if (typeof response === 'object' && response !== null) {
    const r = response as { message?: unknown; error?: unknown };
    if (Array.isArray(r.message)) message = r.message.map(String).join('; ');
    else if (typeof r.message === 'string') message = r.message;
    if (typeof r.error === 'string') error = r.error;
  } else if (typeof response === 'string') {
    message = response;
  }
  return { statusCode, error, message, requestId };
}
