import { parseGatewayConfig } from '../routing/gateway-config.loader';
import { unreloadableChanges } from './reload-limits';

describe('unreloadableChanges', () => {
  const config = (document: Record<string, unknown>) =>
    parseGatewayConfig({
      services: [
        { name: 'user-service', basePath: '/api/users', targets: ['http://127.0.0.1:3002'] },
        { name: 'products', basePath: '/api/products', targets: ['http://127.0.0.1:3001'] },
      ],
      ...document,
    });

  it('should let every other change through', () => {
    const next = parseGatewayConfig({
      services: [
        { name: 'user-service', basePath: '/users', targets: ['http://127.0.0.1:3002'] },
        { name: 'orders', basePath: '/api/orders', targets: ['http://127.0.0.1:3009'] },
      ],
    });
    expect(unreloadableChanges(config({}), next)).toEqual([]);
  });

  it('should name trustedProxyHops and the login replicas when they change', () => {
    const next = parseGatewayConfig({
      trustedProxyHops: 1,
      services: [
        { name: 'products', basePath: '/api/products', targets: ['http://127.0.0.1:3001'] },
      ],
    });
    expect(unreloadableChanges(config({}), next)).toEqual([
      'trustedProxyHops: 0 -> 1 needs a restart',
      "services[user-service].targets: http://127.0.0.1:3002 -> none needs a restart (the login's replicas)",
    ]);
  });

  it('should name a changed tls section, whose headers the TLS listener took at start', () => {
    const hsts = (maxAgeSeconds: number) => config({ tls: { hsts: { maxAgeSeconds } } });
    expect(unreloadableChanges(hsts(600), hsts(600))).toEqual([]);
    expect(unreloadableChanges(config({}), hsts(600))).toEqual([
      'tls: {"hsts":{"maxAgeSeconds":0,"includeSubDomains":false}} -> ' +
        '{"hsts":{"maxAgeSeconds":600,"includeSubDomains":false}} needs a restart',
    ]);
  });
});
