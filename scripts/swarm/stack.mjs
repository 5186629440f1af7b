// Secrets, the stack file as this kernel needs it, the deploy and the wait for healthy replicas.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { docker, progress, SECRETS_DIR, sleep, STACK_NAME, STATE_DIR } from './docker.mjs';
import { ROOT } from './images.mjs';

const SECRETS = {
  jwt_secret: () => randomBytes(48).toString('base64url'),
  redis_password: () => randomBytes(24).toString('hex'),
  admin_password: () => `admin-${randomBytes(12).toString('base64url')}`,
};
const POSTGRES_SECRETS = ['postgres_password', 'products_database_url', 'users_database_url'];

/** The value of a secret swarm:up made (tests read them to prove the stack uses them). */
export function secretValue(name) {
  return readFileSync(join(SECRETS_DIR, name), 'utf8');
}

function ensureSecret(host, name, make) {
  const file = join(SECRETS_DIR, name);
  if (!existsSync(file)) writeFileSync(file, make(), { mode: 0o600 });
  const exists = docker(host, ['secret', 'inspect', name], { allowFailure: true }).status === 0;
  if (!exists) docker(host, ['secret', 'create', name, file]);
}

/** Creates each secret once, from a random value kept under STATE_DIR/secrets (mode 0600). */
export function ensureSecrets(host, postgres) {
  mkdirSync(SECRETS_DIR, { recursive: true, mode: 0o700 });
  for (const [name, make] of Object.entries(SECRETS)) ensureSecret(host, name, make);
  if (!postgres) return;
  ensureSecret(host, 'postgres_password', () => randomBytes(24).toString('hex'));
  const password = secretValue('postgres_password');
  for (const db of ['products', 'users', 'orders']) {
    ensureSecret(
      host,
      `${db}_database_url`,
      () => `postgres://api:${password}@postgres:5432/${db}`,
    );
  }
}

export const SECRET_NAMES = [...Object.keys(SECRETS), ...POSTGRES_SECRETS, 'orders_database_url'];

/** True when the kernel has IPVS, which virtual IPs and the ingress routing mesh need. */
export function hasIpvs() {
  if (process.env.SWARM_NO_IPVS === '1') return false;
  if (process.env.SWARM_NO_IPVS === '0') return true;
  return existsSync('/proc/sys/net/ipv4/vs');
}

/** The app services that keep a SQLite file on a volume in docker-stack.yml. */
const SQLITE_SERVICES = ['product-service', 'user-service', 'checkout-service'];

/**
 * `docker stack config` of the stack files, then what a merge cannot express: without IPVS the
 * gateway's mesh-published port goes (the edge publishes 8080); on PostgreSQL the services' SQLite
 * path and volumes go, so nothing ties a replica to a node; and each config gets a name with its
 * content's digest, since Swarm configs cannot change in place.
 */
export function renderStack(host, { noIpvs, postgres, env }) {
  const files = ['docker-stack.yml'];
  if (noIpvs) files.push('docker-stack.no-ipvs.yml');
  if (postgres) files.push('docker-stack.postgres.yml');
  const merged = docker(host, ['stack', 'config', ...files.flatMap((f) => ['-c', f])], {
    cwd: ROOT,
    env,
  });
  const stack = parse(merged);
  if (noIpvs) delete stack.services.gateway.ports;
  if (postgres) {
    for (const name of SQLITE_SERVICES) {
      const service = stack.services[name];
      delete service.environment.DATABASE_PATH;
      const mounts = (service.volumes ?? []).map((v) => v.source);
      delete service.volumes;
      for (const volume of mounts) delete stack.volumes[volume];
    }
  }
  for (const [name, config] of Object.entries(stack.configs ?? {})) {
    const digest = createHash('sha256').update(readFileSync(config.file)).digest('hex');
    config.name = `${STACK_NAME}_${name}_${digest.slice(0, 12)}`;
  }
  // `docker stack deploy` interpolates the file again: keep a literal `$` literal.
  const out = join(STATE_DIR, 'stack.yml');
  writeFileSync(out, stringify(escapeDollars(stack)));
  return { file: out, files, services: Object.keys(stack.services) };
}

function escapeDollars(node) {
  if (typeof node === 'string') return node.replaceAll('$', '$$$$');
  if (Array.isArray(node)) return node.map(escapeDollars);
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, escapeDollars(v)]));
  }
  return node;
}

export function deployStack(host, file, env) {
  docker(host, ['stack', 'deploy', '--prune', '--resolve-image', 'never', '-c', file, STACK_NAME], {
    env,
  });
}

const names = (host, args) => docker(host, args).split('\n').filter(Boolean);

/**
 * `docker stack rm`, then waits until its containers and networks are gone and removes its
 * configs and volumes (a volume stays in use until its container is gone).
 */
export async function removeStack(host) {
  progress(`docker stack rm ${STACK_NAME}`);
  docker(host, ['stack', 'rm', STACK_NAME], { allowFailure: true });
  const deadline = Date.now() + 120_000;
  const label = `label=com.docker.stack.namespace=${STACK_NAME}`;
  while (Date.now() < deadline) {
    const left = [
      ...names(host, ['ps', '-aq', '--filter', label]),
      ...names(host, ['network', 'ls', '-q', '--filter', label]),
    ];
    if (left.length === 0) break;
    progress(`waiting for ${left.length} containers and networks to go`);
    await sleep(2000);
  }
  for (const config of names(host, ['config', 'ls', '--format', '{{.Name}}'])) {
    if (config.startsWith(`${STACK_NAME}_`)) docker(host, ['config', 'rm', config]);
  }
  for (const volume of names(host, ['volume', 'ls', '-q'])) {
    if (volume.startsWith(`${STACK_NAME}_`)) {
      docker(host, ['volume', 'rm', volume], { allowFailure: true });
    }
  }
}

/** Per service: desired replicas, healthy running tasks, and the state of a running update. */
export function serviceStates(host) {
  const lines = docker(host, [
    'service',
    'ls',
    '--filter',
    `label=com.docker.stack.namespace=${STACK_NAME}`,
    '--format',
    '{{.Name}} {{.Replicas}}',
  ])
    .split('\n')
    .filter(Boolean);
  return lines.map((line) => {
    const [name, replicas] = line.split(' ');
    const [running, desired] = replicas.split('/').map(Number);
    const update = docker(host, [
      'service',
      'inspect',
      '-f',
      '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
      name,
    ]);
    return { name: name.slice(STACK_NAME.length + 1), running, desired, update };
  });
}

/** Waits until every service runs all its replicas, healthy by Swarm's healthchecks. */
export async function waitHealthy(host, expected, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const states = serviceStates(host);
    const pending = expected.filter((name) => {
      const state = states.find((s) => s.name === name);
      return (
        !state ||
        state.running !== state.desired ||
        ['updating', 'rollback_started'].includes(state.update)
      );
    });
    const line = states
      .map((s) => `${s.name} ${s.running}/${s.desired}${s.update ? ` ${s.update}` : ''}`)
      .join(', ');
    if (pending.length === 0) return progress(`healthy: ${line}`);
    if (line !== last) progress(`waiting for healthy replicas: ${line}`);
    last = line;
    if (Date.now() > deadline) throw new Error(`not healthy after ${timeoutMs / 1000}s: ${line}`);
    await sleep(2000);
  }
}

/**
 * The admin's access token. Until a gateway has resolved the user service's tasks, the login
 * answers 502, 503 or 504 (or the edge has no gateway yet): asked again until `deadline`. Any
 * other answer than 200 is final.
 */
async function adminToken(gatewayUrl, adminEmail, deadline) {
  let last = 'no answer';
  while (Date.now() < deadline) {
    const login = await fetch(`${gatewayUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: adminEmail, password: secretValue('admin_password') }),
    }).catch(() => null);
    if (login?.status === 200) return (await login.json()).accessToken;
    if (login !== null && ![502, 503, 504].includes(login.status)) {
      throw new Error(`admin login answers ${login.status}`);
    }
    last = login === null ? 'no answer' : `${login.status}`;
    await login?.arrayBuffer();
    await sleep(1000);
  }
  throw new Error(`admin login still answers ${last} at the deadline`);
}

/**
 * Waits until the gateway routes to every task: healthy in Swarm is not yet in rotation, since each
 * gateway resolves tasks.<service> every few seconds and probes a new target before using it. Asks
 * `/api/admin/status` through the published port (the edge alternates between the gateways) until
 * `times` answers in a row list, for every service, as many targets up as it has replicas.
 */
export async function waitRouted(
  host,
  gatewayUrl,
  adminEmail,
  { times = 4, timeoutMs = 120_000 } = {},
) {
  const deadline = Date.now() + timeoutMs;
  const accessToken = await adminToken(gatewayUrl, adminEmail, deadline);
  const desired = Object.fromEntries(serviceStates(host).map((s) => [s.name, s.desired]));
  let inARow = 0;
  let last = '';
  for (;;) {
    const answer = await fetch(`${gatewayUrl}/api/admin/status`, {
      headers: { authorization: `Bearer ${accessToken}` },
    }).then(
      async (r) => (r.status === 200 ? r.json() : { services: [], status: r.status }),
      () => ({ services: [] }),
    );
    const counts = answer.services.map((s) => ({
      name: s.name,
      up: s.targets.filter((t) => t.state === 'up').length,
      want: desired[s.name],
    }));
    const routed = counts.length > 0 && counts.every((c) => c.up === c.want);
    inARow = routed ? inARow + 1 : 0;
    if (inARow >= times) return progress('the gateways route to every task');
    const line = counts.map((c) => `${c.name} ${c.up}/${c.want}`).join(', ');
    if (line !== last) progress(`waiting for the gateways to route to every task: ${line}`);
    last = line;
    if (Date.now() > deadline) throw new Error(`not routed after ${timeoutMs / 1000}s: ${line}`);
    await sleep(1000);
  }
}
