#!/usr/bin/env node
// npm run swarm:up: the whole stack on a live one-node Docker Swarm, built from this checkout.
// Starts an engine if none answers, makes the swarm, builds the base and app images, creates the
// secrets, labels the node, deploys docker-stack.yml (with docker-stack.no-ipvs.yml where the
// kernel has no IPVS), waits for every replica to be healthy and prints the gateway's address.
// Re-running it updates the stack in place. SWARM_POSTGRES=1 adds docker-stack.postgres.yml with
// the replicas free to move; switching between SQLite and PostgreSQL deploys afresh (the data of
// one store does not move to the other).
import {
  docker,
  findEngine,
  GATEWAY_URL,
  phases,
  progress,
  readState,
  sleep,
  startEngine,
  STACK_NAME,
  STATE_DIR,
  timed,
  writeState,
} from './swarm/docker.mjs';
import { BASE, buildAppImages, ensureBaseImages } from './swarm/images.mjs';
import {
  deployStack,
  ensureSecrets,
  hasIpvs,
  removeStack,
  renderStack,
  waitHealthy,
  waitRouted,
} from './swarm/stack.mjs';

const REGISTRY = 'api-local';
/** Every Linux node: with PostgreSQL nothing ties a service's replica to the api-data node. */
const ANY_NODE = 'node.platform.os == linux';

async function main() {
  const started = Date.now();
  const state = readState();
  let host = findEngine();
  if (host) {
    progress(`using the Docker engine at ${host}`);
  } else {
    const engine = await timed(`start of dockerd (nice 10, data under ${STATE_DIR}/engine)`, () =>
      startEngine(),
    );
    host = engine.host;
    state.startedEngine = true;
  }
  state.dockerHost = host;
  writeState(state);

  const swarm = docker(host, ['info', '--format', '{{.Swarm.LocalNodeState}}']);
  if (swarm !== 'active') {
    await timed('docker swarm init --advertise-addr 127.0.0.1', async () =>
      docker(host, ['swarm', 'init', '--advertise-addr', '127.0.0.1']),
    );
    state.initialisedSwarm = true;
    writeState(state);
  }
  const nodeId = docker(host, ['info', '--format', '{{.Swarm.NodeID}}']);
  docker(host, ['node', 'update', '--label-add', 'api-data=true', nodeId]);

  const tag = await timed('base and app images', () =>
    ensureBaseImages(host, () => timed('app images', () => buildAppImages(host, REGISTRY))),
  );
  progress(`app images tagged ${REGISTRY}/api/<app>:${tag}`);

  const postgres = process.env.SWARM_POSTGRES === '1';
  const deployed = docker(host, ['stack', 'ls', '--format', '{{.Name}}']).split('\n');
  if (deployed.includes(STACK_NAME) && Boolean(state.postgres) !== postgres) {
    await timed(
      `removal of the ${state.postgres ? 'PostgreSQL' : 'SQLite'} stack before the ${postgres ? 'PostgreSQL' : 'SQLite'} one`,
      () => removeStack(host),
    );
  }
  ensureSecrets(host, postgres);
  const noIpvs = !hasIpvs();
  const env = {
    REGISTRY,
    TAG: tag,
    ADMIN_EMAIL: process.env.ADMIN_EMAIL || 'admin@swarm.example.net',
    REDIS_IMAGE: BASE.redis,
    EDGE_IMAGE: BASE.edge,
    POSTGRES_IMAGE: BASE.postgres,
    API_PLACEMENT: process.env.API_PLACEMENT || (postgres ? ANY_NODE : ''),
  };
  const stack = renderStack(host, { noIpvs, postgres, env });
  await timed(
    `deploy of ${stack.files.join(' + ')}${noIpvs ? ' (no IPVS: edge on 8080, gateway unpublished)' : ''} until healthy and routed`,
    async () => {
      deployStack(host, stack.file, env);
      Object.assign(state, {
        tag,
        adminEmail: env.ADMIN_EMAIL,
        noIpvs,
        postgres,
        stackFile: stack.file,
      });
      writeState(state);
      await sleep(3000);
      await waitHealthy(host, stack.services);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const answer = await fetch(`${GATEWAY_URL}/health/ready`).then(
          (r) => r.status,
          (e) => e.cause?.code ?? e.message,
        );
        if (answer === 200) break;
        if (Date.now() > deadline) throw new Error(`${GATEWAY_URL}/health/ready answers ${answer}`);
        await sleep(1000);
      }
      await waitRouted(host, GATEWAY_URL, env.ADMIN_EMAIL);
    },
  );
  progress(`up in ${Math.round((Date.now() - started) / 1000)} s; phases:`);
  for (const { label, seconds } of phases) progress(`  ${String(seconds).padStart(6)} s  ${label}`);
  console.log(`The gateway answers at ${GATEWAY_URL}`);
  console.log(`DOCKER_HOST=${host}  (docker service ls; secrets in ${STATE_DIR}/secrets)`);
}

main().catch((error) => {
  console.error(`swarm:up failed: ${error.message}`);
  process.exit(1);
});
