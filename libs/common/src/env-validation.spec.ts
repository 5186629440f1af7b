import 'reflect-metadata';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { ConfigurationError, isConfigurationError, validateEnv } from './env-validation';
import { JsonLogger, logLevel } from './logger';
import pino from 'pino';

class SampleEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 0;

  @IsIn(['a', 'b'])
  MODE: string = 'a';

  @IsOptional()
  @IsString()
  @Min(100)
  API_SECRET?: string = undefined;
}

describe('validateEnv', () => {
  it('should name the variable and its value once, with the type rule before range rules', () => {
    expect(() => validateEnv(SampleEnv, { PORT: 'abc' })).toThrow(
      new ConfigurationError('PORT="abc": must be an integer number'),
    );
  });

  it('should report the range rule a typed value breaks', () => {
    expect(() => validateEnv(SampleEnv, { PORT: '70000' })).toThrow(
      'Invalid configuration: PORT="70000": must not be greater than 65535',
    );
  });

  it('should list each bad variable once', () => {
    let message = '';
    try {
      validateEnv(SampleEnv, { PORT: '-1', MODE: 'c' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.match(/PORT/g)).toHaveLength(1);
    expect(message.match(/MODE/g)).toHaveLength(1);
    expect(message).toContain('MODE="c": must be one of the following values: a, b');
  });

  it('should never echo the value of a secret', () => {
    expect(() => validateEnv(SampleEnv, { API_SECRET: 'hunter2' })).toThrow(/^(?!.*hunter2)/);
    expect(() => validateEnv(SampleEnv, { API_SECRET: 'hunter2' })).toThrow(/API_SECRET: /);
  });

  it('should return the converted values when all are valid', () => {
    expect(validateEnv(SampleEnv, { PORT: '8080', MODE: 'b' })).toMatchObject({
      PORT: 8080,
      MODE: 'b',
    });
  });
});

describe('logLevel', () => {
  it('should default to info and refuse an unknown level, naming LOG_LEVEL', () => {
    expect(logLevel({})).toBe('info');
    expect(logLevel({ LOG_LEVEL: 'debug' })).toBe('debug');
    expect(() => logLevel({ LOG_LEVEL: 'verbose' })).toThrow(
      'Invalid configuration: LOG_LEVEL="verbose": must be one of fatal, error, warn, info, debug, trace, silent',
    );
  });
});

describe('JsonLogger', () => {
  function capture(): { logger: JsonLogger; lines: string[] } {
    const lines: string[] = [];
    const destination = { write: (line: string) => lines.push(line) };
    return { logger: new JsonLogger(pino({ level: 'info' }, destination)), lines };
  }

  it("should leave a configuration error to the bootstrap's single report", () => {
    const { logger, lines } = capture();
    logger.error(new ConfigurationError('PORT="x": must be an integer number'), 'ExceptionHandler');
    expect(lines).toHaveLength(0);
    expect(isConfigurationError(new Error('Invalid configuration: X: y'))).toBe(true);
  });

  it('should still log other start-up failures', () => {
    const { logger, lines } = capture();
    logger.error(new Error('database locked'), 'ExceptionHandler');
    expect(lines).toHaveLength(1);
  });
});
