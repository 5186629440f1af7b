import { createServer, IncomingHttpHeaders, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestGateway } from './support/test-gateway';

const LINK = '</style.css>; rel=preload; as=style';

/** A raw node:http upstream that sends interim responses before its final answer. */
function interimUpstream(): Server {
  return createServer((req, res) => {
    if (req.url === '/health/ready') {
      res.end('{}');
      return;
    }
    if (req.url === '/hints') res.writeEarlyHints({ link: LINK });
    else res.writeProcessing();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ final: req.url }));
    }, 50);
  });
}

interface Exchange {
  interim: Array<{ status: number; headers: IncomingHttpHeaders }>;
  status: number;
  body: string;
}

/** One GET over node:http, which reports every interim response it receives. */
function get(port: number, path: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const interim: Exchange['interim'] = [];
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ interim, status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('information', (info) =>
      interim.push({ status: info.statusCode, headers: info.headers }),
    );
    req.on('error', reject);
    req.end();
  });
}

describe('gateway: interim 1xx responses from an upstream', () => {
  const upstream = interimUpstream();
  let gateway: TestGateway;

  beforeAll(async () => {
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await new TestGateway({
      services: [
        {
          name: 'hinting',
          basePath: '/api/hinting',
          targets: [origin],
          activeHealth: { enabled: false },
        },
      ],
    }).start();
  });

  afterAll(async () => {
    await gateway.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('should relay 103 Early Hints with its Link, then deliver the final response', async () => {
    const res = await get(gateway.port, '/api/hinting/hints');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ final: '/hints' });
    expect(res.interim).toEqual([{ status: 103, headers: { link: LINK } }]);
  });

  it('should drop other interim responses (102 Processing) and deliver the final response', async () => {
    const res = await get(gateway.port, '/api/hinting/slow');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ final: '/slow' });
    expect(res.interim).toEqual([]);
  });
});
