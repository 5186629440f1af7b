import { ReplicaCaller } from '@app/common';
import { HttpService } from '@nestjs/axios';
import { Logger } from '@nestjs/common';
import axios from 'axios';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { getFromPeer, UpstreamUnavailableException } from './peer-call';

describe('getFromPeer', () => {
  const servers: Server[] = [];

  async function serve(status: number): Promise<string> {
    const server = createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"id":1}');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const caller = (urls: string[]) =>
    new ReplicaCaller(new HttpService(axios.create()), {
      service: 'thing-service',
      urls,
      timeoutMs: 1_000,
      attempts: 2,
      backoff: { baseMs: 1, maxMs: 5 },
    });

  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  afterAll(async () => {
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
  });

  it('should hand back the answer of a replica, a 404 included', async () => {
    const res = await getFromPeer(caller([await serve(404)]), '/1', {});
    expect(res.status).toBe(404);
  });

  it('should throw a 503 "<service> unavailable" when no replica answers', async () => {
    const call = getFromPeer(caller([await serve(503), await serve(503)]), '/1', {});
    await expect(call).rejects.toThrow(new UpstreamUnavailableException('thing-service'));
    await expect(call).rejects.toThrow('thing-service unavailable');
    await expect(call).rejects.toMatchObject({ status: 503 });
  });
});
