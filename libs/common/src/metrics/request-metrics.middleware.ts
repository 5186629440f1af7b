import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { routeTemplateOf } from './route-template';
import { METRICS_PATH, ServiceMetrics, UNMATCHED_ROUTE } from './service-metrics';

/**
 * Times every request to the end of its response and records it under its route template, read
 * from Express' matched route once the answer is known: raw paths (ids, probes of unknown URLs)
 * never become label values. The scrapes themselves are not counted.
 */
@Injectable()
export class RequestMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: ServiceMetrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const route = routeTemplateOf(req) ?? UNMATCHED_ROUTE;
      if (route === METRICS_PATH) return;
      const status = res.writableFinished ? res.statusCode : 499;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.recordRequest(req.method, route, status, seconds);
    });
    next();
  }
}
