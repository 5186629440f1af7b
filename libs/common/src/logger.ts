import { LoggerService } from '@nestjs/common';
import pino, { Logger as PinoLogger } from 'pino';
import { ConfigurationError, isConfigurationError } from './env-validation';
import { requestScopeLogFields } from './trace/request-scope';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `LOG_LEVEL`, checked here because pino's own error would not name the variable. */
export function logLevel(env: NodeJS.ProcessEnv = process.env): string {
  const level = env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? 'info' : env.LOG_LEVEL;
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigurationError(
      `LOG_LEVEL=${JSON.stringify(level)}: must be one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return level;
}

/**
 * Creates the JSON-lines logger every app writes with; `LOG_LEVEL` sets the level. A line written
 * while a request is served carries its `requestId` and `traceId`.
 */
export function createPinoLogger(service: string): PinoLogger {
  return pino({
    level: logLevel(),
    base: { service },
    mixin: requestScopeLogFields,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** Nest's per-module start-up lines, useful only when debugging. */
const STARTUP_CHATTER = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/** Nest's logger interface over pino, so framework messages are JSON lines too. */
export class JsonLogger implements LoggerService {
  constructor(readonly pino: PinoLogger) {}

  log(message: unknown, context?: string): void {
    this.write(context && STARTUP_CHATTER.has(context) ? 'debug' : 'info', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    // Nest logs a failed start before rethrowing; the bootstrap reports a bad setting once itself.
    const fromStartup = stackOrContext === 'ExceptionHandler' || context === 'ExceptionHandler';
    if (fromStartup && isConfigurationError(message)) return;
    const stack = context === undefined ? undefined : stackOrContext;
    this.write('error', message, context ?? stackOrContext, stack);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }
  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    context?: string,
    stack?: string,
  ): void {
    if (message instanceof Error) {
      this.pino[level]({ context, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ context, ...message });
    } else {
      this.pino[level]({ context, stack }, String(message));
    }
  }
}
