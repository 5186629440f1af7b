import { spawnSync } from 'node:child_process';

/** The Redis the tests use: `REDIS_URL`, or the local default. */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A one-off PING in a child process, so the answer is known synchronously when a test file loads. */
const PING_SCRIPT = `
const net = require('node:net');
const url = new URL(process.argv[1]);
const socket = net.connect({ host: url.hostname, port: Number(url.port || 6379) });
const done = (code, message) => { if (message) process.stdout.write(message); socket.destroy(); process.exit(code); };
socket.setTimeout(1000, () => done(1, 'timed out'));
socket.on('error', (err) => done(1, err.message));
socket.on('connect', () => {
  const user = decodeURIComponent(url.username || 'default');
  if (url.password) socket.write('AUTH ' + user + ' ' + decodeURIComponent(url.password) + '\\r\\n');
  socket.write('PING\\r\\n');
});
let reply = '';
socket.on('data', (chunk) => {
  reply += chunk;
  if (reply.includes('+PONG')) done(0);
  if (reply.startsWith('-')) done(1, reply.trim());
});`;

let cached: { ok: true } | { ok: false; reason: string } | undefined;

export function redisStatus(url = TEST_REDIS_URL): { ok: true } | { ok: false; reason: string } {
  if (cached) return cached;
  const child = spawnSync(process.execPath, ['-e', PING_SCRIPT, url], {
    encoding: 'utf8',
    timeout: 3_000,
  });
  cached =
    child.status === 0
      ? { ok: true }
      : { ok: false, reason: (child.stdout || child.error?.message || 'no answer').trim() };
  return cached;
}

/**
 * `describe` that runs only when `status` is ok. Otherwise: on CI (`CI=true`) the suite fails with
 * the reason; elsewhere it is skipped with a visible warning. Never a silent pass.
 */
export function describeWhen(
  name: string,
  status: { ok: true } | { ok: false; reason: string },
  fn: () => void,
): void {
  if (status.ok) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has what it needs to run', () => {
        throw new Error(`${status.reason}; CI must provide it`);
      });
    });
    return;
  }
  console.warn(`SKIPPED "${name}": ${status.reason}.`);
  describe.skip(name, fn);
}

/** `describeWhen` the Redis at `REDIS_URL` answers a PING. */
export function describeWithRedis(name: string, fn: () => void): void {
  const status = redisStatus();
  describeWhen(
    name,
    status.ok
      ? status
      : {
          ok: false,
          reason: `Redis at ${TEST_REDIS_URL} does not answer (${status.reason}); start redis-server or set REDIS_URL`,
        },
    fn,
  );
}
