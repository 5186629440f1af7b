import {
  DynamicModule,
  Global,
  MiddlewareConsumer,
  Module,
  NestModule,
  ValidationPipe,
} from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { HttpExceptionFilter } from './http-exception.filter';
import { JsonDepthMiddleware } from './json-depth';
import { createPinoLogger, JsonLogger } from './logger';
import { APP_PINO, RequestContextMiddleware } from './request-context.middleware';
import { ShutdownState } from './shutdown';
import { Tracing } from './trace/tracing';

export interface CommonHttpOptions {
  /** Name written on every log line as `service`, and the default `OTEL_SERVICE_NAME`. */
  service: string;
}

/**
 * The request pipeline every app shares: request ids, trace context (and its optional export),
 * access logs, a bound on body nesting, validation and one error shape.
 */
@Global()
@Module({})
export class CommonHttpModule implements NestModule {
  static forRoot(options: CommonHttpOptions): DynamicModule {
    return {
      module: CommonHttpModule,
      providers: [
        { provide: APP_PINO, useFactory: () => createPinoLogger(options.service) },
        {
          provide: JsonLogger,
          useFactory: (p: JsonLogger['pino']) => new JsonLogger(p),
          inject: [APP_PINO],
        },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({
            whitelist: true,
            forbidNonWhitelisted: true,
            transform: true,
          }),
        },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        ShutdownState,
        { provide: Tracing, useFactory: () => Tracing.fromEnv(options.service) },
      ],
      exports: [APP_PINO, JsonLogger, ShutdownState, Tracing],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestContextMiddleware, JsonDepthMiddleware).forRoutes('*');
  }
}
