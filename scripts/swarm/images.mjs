// Base images made locally (Docker Hub is out of reach here) and the four app images.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { docker, dockerStreamed, progress, STATE_DIR } from './docker.mjs';

export const ROOT = join(import.meta.dirname, '..', '..');
export const APPS = ['gateway', 'product-service', 'user-service', 'checkout-service'];
const DEBIAN_MIRROR = process.env.DEBIAN_MIRROR || 'http://deb.debian.org/debian';
const CACHE_DIR =
  process.env.SWARM_CACHE_DIR ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'api-swarm');

export const BASE = {
  debian: 'api-local/debian:bookworm',
  node: 'api-local/node:24-bookworm-slim',
  redis: 'api-local/redis:7-bookworm',
  edge: 'api-local/haproxy:2.6-bookworm',
};
const BASE_DOCKERFILES = {
  node: 'deploy/swarm/node-base.Dockerfile',
  redis: 'deploy/swarm/redis.Dockerfile',
  edge: 'deploy/swarm/haproxy.Dockerfile',
};

/** The Node that runs this script (the project's LTS) and the npm package beside it on PATH. */
function nodeBuild() {
  const major = readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim();
  if (process.versions.node.split('.')[0] !== major) {
    throw new Error(`run with Node ${major} (.nvmrc), not ${process.version}`);
  }
  const prefix = dirname(dirname(process.execPath));
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  let npmDir = dirname(realpathSync(which));
  while (!existsSync(join(npmDir, 'package.json')) && npmDir !== '/') npmDir = dirname(npmDir);
  const npm = JSON.parse(readFileSync(join(npmDir, 'package.json'), 'utf8'));
  if (npm.name !== 'npm') throw new Error(`no npm package found from ${which}`);
  return { version: process.versions.node, prefix, npmDir, npmVersion: npm.version };
}

const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function imageExists(host, image) {
  return docker(host, ['image', 'inspect', image], { allowFailure: true }).status === 0;
}

/** Cache key of the base images: everything they are made of. */
function baseKey(node) {
  const hash = createHash('sha256');
  hash.update(`bookworm ${DEBIAN_MIRROR} node ${node.version} npm ${node.npmVersion}\n`);
  for (const file of Object.values(BASE_DOCKERFILES)) hash.update(readFileSync(join(ROOT, file)));
  if (existsSync(CA_BUNDLE)) hash.update(readFileSync(CA_BUNDLE));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Debian bookworm (debootstrap, minbase), Node + npm on it, Redis and HAProxy from Debian; loaded
 * from the cache when the same inputs made them before, saved there after a build.
 */
export async function ensureBaseImages(host) {
  const node = nodeBuild();
  const key = baseKey(node);
  const cached = join(CACHE_DIR, `base-images-${key}.tar`);
  const all = Object.values(BASE);
  if (all.every((image) => imageExists(host, image))) {
    const label = docker(host, ['image', 'inspect', '-f', '{{.Config.Labels}}', BASE.node]);
    if (label.includes(key)) return progress('base images present');
  }
  if (existsSync(cached)) {
    progress(`loading base images from ${cached}`);
    docker(host, ['load', '-q', '-i', cached]);
    return;
  }
  const work = join(STATE_DIR, 'base-build');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const rootfs = join(work, 'rootfs');
    progress(`debootstrap bookworm from ${DEBIAN_MIRROR} (about 40 s)`);
    const boot = spawnSync(
      'debootstrap',
      ['--variant=minbase', 'bookworm', rootfs, DEBIAN_MIRROR],
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
    );
    if (boot.status !== 0) throw new Error(`debootstrap failed:\n${boot.stderr}`);
    rmSync(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    rmSync(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
    mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
    progress(`importing ${BASE.debian}`);
    const tar = spawnSync(
      'sh',
      ['-c', `tar -C "${rootfs}" -c . | docker import -c 'CMD ["bash"]' - ${BASE.debian}`],
      { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host } },
    );
    if (tar.status !== 0) throw new Error(`docker import failed:\n${tar.stderr}`);
    rmSync(rootfs, { recursive: true, force: true });

    const context = join(work, 'node');
    mkdirSync(join(context, 'node', 'bin'), { recursive: true });
    mkdirSync(join(context, 'node', 'lib', 'node_modules'), { recursive: true });
    cpSync(process.execPath, join(context, 'node', 'bin', 'node'));
    cpSync(join(node.prefix, 'include'), join(context, 'node', 'include'), { recursive: true });
    cpSync(node.npmDir, join(context, 'node', 'lib', 'node_modules', 'npm'), { recursive: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(context, 'node', 'bin', 'npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(context, 'node', 'bin', 'npx'));
    cpSync(CA_BUNDLE, join(context, 'ca-certificates.crt'));
    for (const [name, file] of Object.entries(BASE_DOCKERFILES)) {
      progress(`building ${BASE[name]}`);
      await dockerStreamed(
        host,
        [
          'build',
          '-q',
          '--label',
          `api-swarm.base=${key}`,
          '-f',
          join(ROOT, file),
          '-t',
          BASE[name],
          name === 'node' ? context : join(ROOT, 'deploy', 'swarm'),
        ],
        { env: { DOCKER_BUILDKIT: '0' } },
      );
    }
    // One set of base images is kept: those of older inputs are of no use any more.
    mkdirSync(CACHE_DIR, { recursive: true });
    for (const old of readdirSync(CACHE_DIR).filter((f) => f.startsWith('base-images-'))) {
      rmSync(join(CACHE_DIR, old), { force: true });
    }
    progress(`saving base images to ${cached}`);
    docker(host, ['save', '-o', `${cached}.partial`, ...all]);
    spawnSync('mv', [`${cached}.partial`, cached]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The Dockerfile's `deps` stage (apt build tools, npm ci, better-sqlite3 compiled): minutes on a
 * small machine, and the same for every app until the lockfile or that stage changes. Kept as an
 * image in the cache folder and given to each build as `--cache-from`.
 */
async function ensureDepsImage(host) {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const hash = createHash('sha256').update(dockerfile.slice(0, dockerfile.indexOf('FROM deps')));
  for (const file of ['package.json', 'package-lock.json', '.npmrc']) {
    hash.update(readFileSync(join(ROOT, file)));
  }
  hash.update(docker(host, ['image', 'inspect', '-f', '{{.Id}}', BASE.node]));
  const key = hash.digest('hex').slice(0, 16);
  const image = `api-local/app-deps:${key}`;
  const cached = join(CACHE_DIR, `app-deps-${key}.tar`);
  if (!imageExists(host, image) && existsSync(cached)) {
    progress(`loading the dependency stage from ${cached}`);
    docker(host, ['load', '-q', '-i', cached]);
  }
  const fresh = !imageExists(host, image);
  progress(
    fresh ? 'building the dependency stage (npm ci, better-sqlite3)' : 'dependency stage cached',
  );
  await build(host, 'deps', [
    '--target',
    'deps',
    ...(fresh ? [] : ['--cache-from', image]),
    '-t',
    image,
  ]);
  if (fresh) {
    for (const old of readdirSync(CACHE_DIR).filter((f) => f.startsWith('app-deps-'))) {
      rmSync(join(CACHE_DIR, old), { force: true });
    }
    progress(`saving the dependency stage to ${cached}`);
    docker(host, ['save', '-o', `${cached}.partial`, image]);
    spawnSync('mv', [`${cached}.partial`, cached]);
  }
  // Built here, its parent chain is this engine's own build cache; loaded, it has no parents and
  // serves as the cache only through --cache-from (which turns the local chain off).
  const loaded = docker(host, ['image', 'inspect', '-f', '{{.Parent}}', image]) === '';
  return loaded ? ['--cache-from', image] : [];
}

/** One `docker build` of the project's Dockerfile, with a progress line per RUN step. */
function build(host, label, args) {
  let step = '';
  return dockerStreamed(host, ['build', '--build-arg', `BASE_IMAGE=${BASE.node}`, ...args, ROOT], {
    env: { DOCKER_BUILDKIT: '0' },
    onOutput: (text) => {
      for (const line of text.split('\n')) {
        const match = /^Step (\d+\/\d+) : (\S+)/.exec(line);
        if (match && match[1] !== step) {
          step = match[1];
          if (match[2] === 'RUN') progress(`  ${label}: ${line.slice(0, 100)}`);
        }
      }
    },
  });
}

/**
 * Builds the four app images from the project's Dockerfile on the local Node base. Returns the tag
 * they all carry: a digest of their image ids, so a re-run with unchanged code deploys nothing new.
 */
export async function buildAppImages(host, registry) {
  mkdirSync(CACHE_DIR, { recursive: true });
  const cacheFrom = await ensureDepsImage(host);
  const ids = [];
  for (const app of APPS) {
    progress(`building ${app}`);
    const image = `${registry}/api/${app}:build`;
    await build(host, app, [...cacheFrom, '--build-arg', `APP=${app}`, '-t', image]);
    ids.push(docker(host, ['image', 'inspect', '-f', '{{.Id}}', image]));
  }
  const tag = createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 12);
  for (const app of APPS) {
    docker(host, ['tag', `${registry}/api/${app}:build`, `${registry}/api/${app}:${tag}`]);
  }
  return tag;
}
