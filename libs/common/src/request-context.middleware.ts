import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Logger as PinoLogger } from 'pino';
import { routeTemplateOf } from './metrics/route-template';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id';
import { closeRequestScope, openRequestScope, runInRequestScope } from './trace/request-scope';
import { Tracing } from './trace/tracing';

export const APP_PINO = Symbol('APP_PINO');

declare module 'express' {
  interface Request {
    requestId?: string;
  }
}

/**
 * Gives each request its id (echoed on the response) and its trace (the caller's `traceparent`
 * continued, or a new one), serves it within that scope so that every log line and peer call
 * made for it carries both, and writes one JSON access-log line when it ends.
 */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  constructor(
    @Inject(APP_PINO) private readonly logger: PinoLogger,
    private readonly tracing: Tracing,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const requestId = requestIdOf(req);
    req.requestId = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const scope = openRequestScope(this.tracing, req, requestId);
    const started = process.hrtime.bigint();
    if (scope.span !== null) {
      res.once('close', () => closeRequestScope(scope, req, routeTemplateOf(req), res));
    }
    res.once('finish', () => {
      this.logger.info({
        msg: 'request',
        requestId,
        traceId: scope.traceId,
        method: req.method,
        path: req.originalUrl,
        status: res.statusCode,
        latencyMs: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
    runInRequestScope(scope, next);
  }
}
