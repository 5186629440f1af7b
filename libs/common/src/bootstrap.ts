import { INestApplication, Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { OutgoingHttpHeaders, Server } from 'node:http';
import { createPinoLogger, JsonLogger } from './logger';
import { SERVER_CONFIG, ServerConfig } from './server.config';
import { drainHttpServer, DrainOptions, ShutdownState } from './shutdown';
import { SecureListener } from './tls/secure-listener';

export interface BootstrapOptions {
  /** Hook to adjust the app before it listens (extra routes, swagger). */
  configure?: (app: NestExpressApplication) => void | Promise<void>;
  /** Headers of every answer on the TLS listener (Strict-Transport-Security), read once at start. */
  tlsResponseHeaders?: (app: NestExpressApplication) => OutgoingHttpHeaders;
}

/**
 * Creates, configures and starts one of the system's HTTP apps on its validated `HOST`:`PORT` (see `serverConfig`),
 * and on `HOST`:`TLS_PORT` with TLS and HTTP/2 as well when a certificate is configured.
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

  const { port, host, headersTimeoutMs, drainDelayMs, drainTimeoutMs, tls } = app
    .get(ConfigService)
    .getOrThrow<ServerConfig>(SERVER_CONFIG);
  limitSlowClients(app.getHttpServer(), headersTimeoutMs);
  const secure =
    tls === null
      ? null
      : new SecureListener(app, tls, {
          headersTimeoutMs,
          responseHeaders: options.tlsResponseHeaders?.(app),
        });
  await app.listen(port, host);
  logger.log({ msg: 'listening', url: `http://${host}:${port}` }, 'Bootstrap');
  if (secure !== null) {
    try {
      await secure.listen(host);
    } catch (err) {
      logger.fatal({ msg: 'TLS listener failed', err }, 'Bootstrap');
      process.exit(1);
    }
    logger.log({ msg: 'listening', url: `https://${host}:${secure.port}` }, 'Bootstrap');
  }

  installGracefulShutdown(
    app,
    logger,
    { delayMs: drainDelayMs, timeoutMs: drainTimeoutMs },
    secure,
  );
  return app;
}

/**
 * Node's defaults let a client take 60 s over its headers and check only every 30 s, so a few
 * hundred slowloris sockets hold their connections for a minute or more; the bound applies within
 * a second of `headersTimeoutMs` instead. Must run before `listen`, which starts the checker.
 */
export function limitSlowClients(server: Server, headersTimeoutMs: number): void {
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = Math.max(server.requestTimeout, headersTimeoutMs);
  // A constructor option that Node reads when the server starts listening.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    Math.min(1_000, headersTimeoutMs);
}

/** Bound on the app's shutdown hooks (database, pools, Redis) once the server has drained. */
const SHUTDOWN_HOOKS_TIMEOUT_MS = 10_000;

/**
 * On SIGTERM or SIGINT: drain the HTTP server (see `drainHttpServer`) and the TLS listener beside
 * it, then close the app (its shutdown hooks: database, pools, Redis) and exit 0; exit 1 when
 * closing fails or hangs.
 */
function installGracefulShutdown(
  app: NestExpressApplication,
  logger: JsonLogger,
  drain: DrainOptions,
  secure: SecureListener | null,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.log({ msg: 'draining', signal, ...drain }, 'Shutdown');
    Promise.all([
      drainHttpServer(app.getHttpServer(), app.get(ShutdownState), drain),
      secure?.drain(drain) ?? 'drained',
    ])
      .then((outcomes) => {
        if (outcomes.includes('forced')) {
          logger.warn({ msg: 'requests still in flight were cut', ...drain }, 'Shutdown');
        }
        // The hooks run only now that no request can need what they close.
        const hung = setTimeout(() => {
          logger.error(
            { msg: 'shutdown hooks did not finish', boundMs: SHUTDOWN_HOOKS_TIMEOUT_MS },
            'Shutdown',
          );
          process.exit(1);
        }, SHUTDOWN_HOOKS_TIMEOUT_MS);
        hung.unref();
        return app.close();
      })
      .then(() => {
        logger.log({ msg: 'stopped' }, 'Shutdown');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error(err, 'Shutdown');
        process.exit(1);
      });
  };
  // A repeated SIGTERM must not cut the drain short; a second Ctrl-C (SIGINT) still ends it at once.
  process.on('SIGTERM', stop);
  process.once('SIGINT', stop);
}
