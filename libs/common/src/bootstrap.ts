import { INestApplication, Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createPinoLogger, JsonLogger } from './logger';
import { SERVER_CONFIG, ServerConfig } from './server.config';
import { ShutdownState } from './shutdown';

export interface BootstrapOptions {
  /** How long in-flight requests may take to finish after SIGTERM before connections are cut. */
  drainTimeoutMs?: number;
  /** Hook to adjust the app before it listens (extra routes, swagger). */
  configure?: (app: NestExpressApplication) => void | Promise<void>;
}

/**
 * Creates, configures and starts one of the system's HTTP apps on its validated `HOST`:`PORT` (see `serverConfig`).
 * A configuration error stops the process with a message naming the variable (exit code 1).
 */
export async function bootstrapApp(
  rootModule: Type<unknown>,
  options: BootstrapOptions = {},
): Promise<INestApplication> {
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(rootModule, {
      logger: new JsonLogger(createPinoLogger(rootModule.name)),
      bufferLogs: true,
      abortOnError: false,
    });
  } catch (err) {
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), msg: (err as Error).message })}\n`,
    );
    process.exit(1);
  }
  const logger = app.get(JsonLogger);
  app.useLogger(logger);
  app.disable('x-powered-by');
  await options.configure?.(app);

  const { port, host } = app.get(ConfigService).getOrThrow<ServerConfig>(SERVER_CONFIG);
  await app.listen(port, host);
  logger.log({ msg: 'listening', url: `http://${host}:${port}` }, 'Bootstrap');

  installGracefulShutdown(app, logger, options.drainTimeoutMs ?? 10_000);
  return app;
}

function installGracefulShutdown(
  app: NestExpressApplication,
  logger: JsonLogger,
  drainTimeoutMs: number,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    app.get(ShutdownState).beginDrain();
    logger.log({ msg: 'draining', signal, drainTimeoutMs }, 'Shutdown');
    const server = app.getHttpServer();
    // Requests still running after the bound are cut rather than holding the rollout.
    const force = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
    force.unref();
    app
      .close()
      .then(() => {
        logger.log({ msg: 'stopped' }, 'Shutdown');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error(err, 'Shutdown');
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
