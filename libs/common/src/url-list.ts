import { ValidateBy, ValidationOptions } from 'class-validator';

/** Splits a comma-separated list of base URLs, trimming blanks and trailing slashes. */
export function parseUrlList(value: string): string[] {
  return value
    .split(',')
    .map((url) => url.trim().replace(/\/+$/, ''))
    .filter((url) => url.length > 0);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash;
  } catch {
    return false;
  }
}

/** An environment variable holding a non-empty comma-separated list of http(s) base URLs. */
export function IsHttpUrlList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isHttpUrlList',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          const urls = parseUrlList(value);
          return urls.length > 0 && urls.every(isHttpUrl);
        },
        defaultMessage: (args) =>
          `${args?.property} must be a comma-separated list of http(s) URLs`,
      },
    },
    options,
  );
}
