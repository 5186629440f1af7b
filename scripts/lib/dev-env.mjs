// The environment every locally run app gets: SQLite files and secrets under the data folder.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A signing secret made once per data folder, so that restarting or reloading the gateway keeps
 * everybody's tokens valid. Production never reads it: there `JWT_SECRET(_FILE)` is required.
 */
export function localJwtSecretFile(dataDir) {
  const file = join(dataDir, 'jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  return file;
}

/** Every process of the local system: two replicas of products and users, one checkout, the gateway. */
export const LOCAL_PROCESSES = [
  { name: 'product-service', app: 'product-service', port: 3001, db: 'products.db' },
  { name: 'product-service', app: 'product-service', port: 3003, db: 'products.db' },
  { name: 'user-service', app: 'user-service', port: 3002, db: 'users.db' },
  { name: 'user-service', app: 'user-service', port: 3004, db: 'users.db' },
  { name: 'checkout-service', app: 'checkout-service', port: 3005, db: 'orders.db' },
  { name: 'gateway', app: 'gateway', port: 8080 },
];

/** Environment of one local app process. */
export function localEnv({ root, dataDir, app, port, db }) {
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: process.env.HOST ?? '127.0.0.1',
  };
  if (db && !process.env.DATABASE_URL) env.DATABASE_PATH = join(dataDir, db);
  if (app === 'gateway') {
    env.GATEWAY_CONFIG = process.env.GATEWAY_CONFIG ?? join(root, 'config', 'gateway.local.yaml');
    const hsSecretGiven = process.env.JWT_SECRET || process.env.JWT_SECRET_FILE;
    if (!hsSecretGiven && process.env.JWT_ALGORITHM !== 'RS256') {
      env.JWT_SECRET_FILE = localJwtSecretFile(dataDir);
    }
  }
  return env;
}
