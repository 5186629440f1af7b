import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Logger as PinoLogger } from 'pino';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id';

export const APP_PINO = Symbol('APP_PINO');

declare module 'express' {
  interface Request {
    requestId?: string;
  }
}

/** Gives each request its id (echoed on the response) and writes one JSON access-log line when it ends. */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  constructor(@Inject(APP_PINO) private readonly logger: PinoLogger) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const requestId = requestIdOf(req);
    req.requestId = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      this.logger.info({
        msg: 'request',
        requestId,
        method: req.method,
        path: req.originalUrl,
        status: res.statusCode,
        latencyMs: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
    next();
  }
}
