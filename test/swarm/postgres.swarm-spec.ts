import { login } from './http';
import { createProduct, expectClientJourney, expectSharedStoreAndDiscovery } from './journeys';
import { docker, secret, STACK, swarmState, tasksOf } from './swarm-env';

// The stack deployed by `SWARM_POSTGRES=1 npm run swarm:up`: docker-stack.yml with
// docker-stack.postgres.yml, the services on PostgreSQL with nothing that ties a replica to a node.
const state = swarmState();
if (!state) {
  const reason = 'no swarm deployed by "npm run swarm:up" (state file missing)';
  if (process.env.SWARM_REQUIRED === '1') throw new Error(reason);
  console.warn(`SKIPPED swarm suite: ${reason}.`);
}
// The SQLite deploy runs tests 1-7 (swarm.swarm-spec.ts) instead.
const describePostgres = state?.postgres ? describe : describe.skip;

const SERVICES: Record<string, string> = {
  'product-service': 'products',
  'user-service': 'users',
  'checkout-service': 'orders',
};

describePostgres('8. the PostgreSQL override on a live swarm', () => {
  let adminToken: string;
  let productId: number;

  beforeAll(async () => {
    adminToken = await login(state!.adminEmail, secret('admin_password'));
    productId = await createProduct(adminToken);
  }, 60_000);

  it('runs every service on its own database, with no volume and no node pin', async () => {
    for (const [service, database] of Object.entries(SERVICES)) {
      const spec = JSON.parse(
        await docker([
          'service',
          'inspect',
          '-f',
          '{{json .Spec.TaskTemplate}}',
          `${STACK}_${service}`,
        ]),
      ) as {
        ContainerSpec: { Env?: string[]; Mounts?: unknown[] };
        Placement?: { Constraints?: string[] };
      };
      const env = spec.ContainerSpec.Env ?? [];
      expect({ service, env: env.filter((e) => e.startsWith('DATABASE_')) }).toEqual({
        service,
        env: [`DATABASE_URL_FILE=/run/secrets/${database}_database_url`],
      });
      expect({ service, mounts: spec.ContainerSpec.Mounts ?? [] }).toEqual({ service, mounts: [] });
      expect({ service, constraints: spec.Placement?.Constraints }).toEqual({
        service,
        constraints: ['node.platform.os == linux'],
      });
    }
  });

  it('1. serves the client journey, with no seed data and the first admin from the secret', async () => {
    await expectClientJourney(state!.adminEmail, adminToken, productId);
  });

  it('3. shares the users between replicas through PostgreSQL and discovers every task', async () => {
    await expectSharedStoreAndDiscovery(adminToken);
    // The rows are PostgreSQL's: the first administrator is in the users database.
    const [postgres] = await tasksOf('postgres');
    const rows = await docker([
      'exec',
      postgres.container,
      'psql',
      '-U',
      'api',
      '-d',
      'users',
      '-tAc',
      `select count(*) from users where email = '${state!.adminEmail}'`,
    ]);
    expect(rows).toBe('1');
  });
});
