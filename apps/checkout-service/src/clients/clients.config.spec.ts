import { clientsConfig } from './clients.config';

describe('clientsConfig', () => {
  const saved = { ...process.env };
  const vars = [
    'PRODUCT_SERVICE_URLS',
    'USER_SERVICE_URLS',
    'UPSTREAM_TIMEOUT_MS',
    'UPSTREAM_ATTEMPTS',
  ];

  beforeEach(() => vars.forEach((v) => delete process.env[v]));
  afterAll(() => {
    vars.forEach((v) => delete process.env[v]);
    Object.assign(process.env, saved);
  });

  it('should default to the local replicas, 2 s and 3 attempts', () => {
    expect(clientsConfig()).toEqual({
      product: {
        service: 'product-service',
        urls: ['http://127.0.0.1:3001', 'http://127.0.0.1:3003'],
        timeoutMs: 2000,
        attempts: 3,
      },
      user: {
        service: 'user-service',
        urls: ['http://127.0.0.1:3002', 'http://127.0.0.1:3004'],
        timeoutMs: 2000,
        attempts: 3,
      },
    });
  });

  it('should read lists with blanks and trailing slashes', () => {
    process.env.PRODUCT_SERVICE_URLS = ' http://products-a:3001/ , https://products-b ';
    process.env.UPSTREAM_TIMEOUT_MS = '500';
    process.env.UPSTREAM_ATTEMPTS = '5';
    const config = clientsConfig();
    expect(config.product).toEqual({
      service: 'product-service',
      urls: ['http://products-a:3001', 'https://products-b'],
      timeoutMs: 500,
      attempts: 5,
    });
  });

  it.each([
    ['PRODUCT_SERVICE_URLS', 'not a url'],
    ['PRODUCT_SERVICE_URLS', 'ftp://127.0.0.1:21'],
    ['PRODUCT_SERVICE_URLS', ','],
    ['USER_SERVICE_URLS', 'http://127.0.0.1:3002,127.0.0.1:3004'],
    ['UPSTREAM_TIMEOUT_MS', '0'],
    ['UPSTREAM_ATTEMPTS', 'three'],
  ])('should refuse %s=%p with a message naming it', (name, value) => {
    process.env[name] = value;
    expect(() => clientsConfig()).toThrow(new RegExp(`Invalid configuration: ${name}`));
  });
});
