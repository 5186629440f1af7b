import 'reflect-metadata';
import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { testAuthConfig } from '../../test/support/auth-fixtures';
import { CredentialsClient } from './credentials.client';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const ADA = { id: 3, name: 'Ada', email: 'ada@example.com', roles: ['user'] };

describe('CredentialsClient', () => {
  const servers: Server[] = [];

  async function serve(handler: Handler): Promise<{ url: string; hits: () => number }> {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => handler(req, res, body));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      hits: () => hits,
    };
  }

  /** A URL where nothing listens. */
  async function closedUrl(): Promise<string> {
    const { url } = await serve(() => undefined);
    const server = servers.pop()!;
    await new Promise((r) => server.close(r));
    return url;
  }

  const json =
    (status: number, body: unknown): Handler =>
    (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };

  const client = (urls: string[], timeoutMs = 1_000) =>
    new CredentialsClient(
      new HttpService(axios.create()),
      urls,
      testAuthConfig({ userServiceTimeoutMs: timeoutMs }),
    );

  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('should post the credentials to the verify endpoint and return the user', async () => {
    let seen: { method?: string; url?: string; body?: string; requestId?: string } = {};
    const up = await serve((req, res, body) => {
      seen = {
        method: req.method,
        url: req.url,
        body,
        requestId: req.headers['x-request-id'] as string,
      };
      json(200, ADA)(req, res, body);
    });
    await expect(client([up.url]).verify('ada@example.com', 'pw-123456', 'rid-1')).resolves.toEqual(
      {
        kind: 'valid',
        user: ADA,
      },
    );
    expect(seen).toEqual({
      method: 'POST',
      url: '/internal/credentials/verify',
      body: JSON.stringify({ email: 'ada@example.com', password: 'pw-123456' }),
      requestId: 'rid-1',
    });
  });

  it('should report wrong credentials without trying another replica', async () => {
    const a = await serve(json(401, { message: 'invalid credentials' }));
    const b = await serve(json(200, ADA));
    const c = client([a.url, b.url]);
    await expect(c.verify('x@example.com', 'nope')).resolves.toEqual({ kind: 'invalid' });
    await expect(c.verify('x@example.com', 'nope')).resolves.toEqual({ kind: 'valid', user: ADA });
    expect([a.hits(), b.hits()]).toEqual([1, 1]);
  });

  it('should try the next replica when one refuses connections or answers 503', async () => {
    const down = await closedUrl();
    const draining = await serve(json(503, {}));
    const up = await serve(json(200, ADA));
    const c = client([down, draining.url, up.url]);
    for (let i = 0; i < 3; i++) {
      await expect(c.verify('ada@example.com', 'pw')).resolves.toEqual({
        kind: 'valid',
        user: ADA,
      });
    }
    expect(up.hits()).toBe(3);
  });

  it('should try the next replica when one does not answer in time', async () => {
    const silent = await serve(() => undefined);
    const up = await serve(json(200, ADA));
    const result = await client([silent.url, up.url], 200).verify('ada@example.com', 'pw');
    expect(result).toEqual({ kind: 'valid', user: ADA });
  });

  it('should be unavailable when no replica answers', async () => {
    const c = client([await closedUrl(), await closedUrl()]);
    await expect(c.verify('ada@example.com', 'pw')).resolves.toMatchObject({ kind: 'unavailable' });
    await expect(client([]).verify('a@b.io', 'pw')).resolves.toMatchObject({ kind: 'unavailable' });
  });

  it('should be unavailable, not valid, when the service answers an unexpected body', async () => {
    const odd = await serve(json(200, { id: 'x', roles: ['a,b'] }));
    await expect(client([odd.url]).verify('a@b.io', 'pw')).resolves.toMatchObject({
      kind: 'unavailable',
    });
  });
});
