import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ServiceMetricsController } from './metrics.controller';
import { RequestMetricsMiddleware } from './request-metrics.middleware';
import { ServiceMetrics } from './service-metrics';

/**
 * `GET /metrics` in Prometheus' format and the request metrics behind it. Global, so the
 * service's other modules (the database's lock and pool) register their metrics in the same
 * registry.
 */
@Global()
@Module({
  controllers: [ServiceMetricsController],
  providers: [ServiceMetrics],
  exports: [ServiceMetrics],
})
export class ServiceMetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestMetricsMiddleware).forRoutes('*');
  }
}
