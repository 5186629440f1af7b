import type { Config } from 'jest';
import { pathsToModuleNameMapper } from 'ts-jest';
import { readFileSync } from 'node:fs';

// Read, not imported: Node 24 loads this file itself, and a JSON import would need an import attribute.
const { compilerOptions } = JSON.parse(
  readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8'),
);
const moduleNameMapper = pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' });

const shared = {
  rootDir: '.',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.spec.json' }] },
  moduleNameMapper,
  setupFiles: ['<rootDir>/test/jest.setup-env.ts'],
} satisfies Config;

const config: Config = {
  testTimeout: 60_000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/src/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/apps/*/test/**/*.e2e-spec.ts'],
    },
    {
      ...shared,
      displayName: 'system',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
    },
    {
      // Attacks and faults on the running system, minutes long: `npm run test:proof`.
      ...shared,
      displayName: 'proof',
      testMatch: ['<rootDir>/test/proof/**/*.proof-spec.ts'],
    },
    {
      // The stack on a live Docker Swarm (`npm run swarm:up` first): `npm run test:swarm`.
      ...shared,
      displayName: 'swarm',
      testMatch: ['<rootDir>/test/swarm/**/*.swarm-spec.ts'],
    },
  ],
};

export default config;
