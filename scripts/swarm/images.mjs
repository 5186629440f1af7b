// Base images made locally (Docker Hub is out of reach here) and the four app images.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { finished } from 'node:stream/promises';
import { dirname, join } from 'node:path';
import { docker, dockerStreamed, progress, STATE_DIR, timed } from './docker.mjs';

export const ROOT = join(import.meta.dirname, '..', '..');
export const APPS = ['gateway', 'product-service', 'user-service', 'checkout-service'];
const DEBIAN_MIRROR = process.env.DEBIAN_MIRROR || 'http://deb.debian.org/debian';
/** Kept between runs: only the debootstrap root file system, named by what it is made of. */
const CACHE_DIR =
  process.env.SWARM_CACHE_DIR ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'api-swarm');

export const BASE = {
  debian: 'api-local/debian:bookworm',
  node: 'api-local/node:24-bookworm-slim',
  nodeBuild: 'api-local/node:24-bookworm',
  redis: 'api-local/redis:7-bookworm',
  edge: 'api-local/haproxy:2.6-bookworm',
  postgres: 'api-local/postgres:15-bookworm',
};
const DOCKERFILES = {
  node: 'deploy/swarm/node-base.Dockerfile',
  nodeBuild: 'deploy/swarm/node-build.Dockerfile',
  redis: 'deploy/swarm/redis.Dockerfile',
  edge: 'deploy/swarm/haproxy.Dockerfile',
  postgres: 'deploy/swarm/postgres.Dockerfile',
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

/**
 * What the debootstrap root file system is made of: the mirror, the suite and the mirror's current
 * signed index of it (InRelease changes with every point release of bookworm), and this code. The
 * same key means debootstrap would install the same package versions.
 */
async function rootfsKey() {
  const url = `${DEBIAN_MIRROR}/dists/bookworm/InRelease`;
  const answer = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!answer.ok) throw new Error(`${url} answers ${answer.status}`);
  return createHash('sha256')
    .update(`debootstrap --variant=minbase bookworm ${DEBIAN_MIRROR}\n`)
    .update(Buffer.from(await answer.arrayBuffer()))
    .update(readFileSync(import.meta.filename))
    .digest('hex')
    .slice(0, 16);
}

function pipeToImport(host, source, image) {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['import', '-c', 'CMD ["bash"]', '-', image], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, DOCKER_HOST: host },
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`docker import failed:\n${err}`)),
    );
    source.pipe(child.stdin);
  });
}

/**
 * Debian bookworm by debootstrap (minbase), imported as BASE.debian. Its tarball is kept in the
 * cache folder under a key that names the mirror's index: reused only while it matches.
 */
async function ensureDebian(host) {
  if (imageExists(host, BASE.debian)) return progress(`${BASE.debian} present`);
  const key = await rootfsKey();
  const tarball = join(CACHE_DIR, `debian-bookworm-minbase-${key}.tar`);
  if (existsSync(tarball)) {
    await timed(`import of the cached root file system ${tarball}`, async () => {
      const { createReadStream } = await import('node:fs');
      await pipeToImport(host, createReadStream(tarball), BASE.debian);
    });
    return;
  }
  const rootfs = join(STATE_DIR, 'rootfs');
  rmSync(rootfs, { recursive: true, force: true });
  try {
    await timed(`debootstrap bookworm from ${DEBIAN_MIRROR}`, async () => {
      const boot = spawnSync(
        'nice',
        ['-n', '10', 'debootstrap', '--variant=minbase', 'bookworm', rootfs, DEBIAN_MIRROR],
        { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
      );
      if (boot.status !== 0) throw new Error(`debootstrap failed:\n${boot.stderr}`);
    });
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      rmSync(join(rootfs, dir), { recursive: true, force: true });
      mkdirSync(join(rootfs, dir, 'partial'), { recursive: true });
    }
    await timed(`import of ${BASE.debian} (and its tarball into ${CACHE_DIR})`, async () => {
      mkdirSync(CACHE_DIR, { recursive: true });
      for (const old of readdirSync(CACHE_DIR).filter((f) => f.startsWith('debian-'))) {
        rmSync(join(CACHE_DIR, old), { force: true });
      }
      const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const tarred = new Promise((resolve, reject) =>
        tar.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar: ${code}`)))),
      );
      const partial = `${tarball}.partial`;
      const file = createWriteStream(partial);
      const written = finished(file);
      tar.stdout.pipe(file);
      await Promise.all([pipeToImport(host, tar.stdout, BASE.debian), tarred, written]);
      renameSync(partial, tarball);
    });
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

/** The context of BASE.node: node/{bin,include,lib} of the running Node and the CA bundle. */
function nodeContext(node) {
  const context = join(STATE_DIR, 'node-context');
  rmSync(context, { recursive: true, force: true });
  mkdirSync(join(context, 'node', 'bin'), { recursive: true });
  mkdirSync(join(context, 'node', 'lib', 'node_modules'), { recursive: true });
  cpSync(process.execPath, join(context, 'node', 'bin', 'node'));
  cpSync(join(node.prefix, 'include'), join(context, 'node', 'include'), { recursive: true });
  cpSync(node.npmDir, join(context, 'node', 'lib', 'node_modules', 'npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(context, 'node', 'bin', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(context, 'node', 'bin', 'npx'));
  cpSync(CA_BUNDLE, join(context, 'ca-certificates.crt'));
  return context;
}

function buildBase(host, name, context) {
  if (imageExists(host, BASE[name])) return progress(`${BASE[name]} present`);
  return timed(`build of ${BASE[name]}`, () =>
    dockerStreamed(
      host,
      ['build', '-q', '-f', join(ROOT, DOCKERFILES[name]), '-t', BASE[name], context],
      { env: { DOCKER_BUILDKIT: '0' } },
    ),
  );
}

/**
 * The base images: Debian bookworm, then Node + npm on it (and that plus compilers, the build
 * image), Redis, HAProxy and PostgreSQL from Debian's packages. The Node chain and the three
 * service images are built side by side (mostly downloads and dpkg); `onNodeBuild` runs as soon as
 * the build image is there, so the app images need not wait for the service images.
 */
export async function ensureBaseImages(host, onNodeBuild) {
  const node = nodeBuild();
  await ensureDebian(host);
  const services = join(ROOT, 'deploy', 'swarm');
  const nodeChain = (async () => {
    const context = nodeContext(node);
    try {
      await buildBase(host, 'node', context);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
    await buildBase(host, 'nodeBuild', services);
    return onNodeBuild();
  })();
  const others = Promise.all(
    ['redis', 'edge', 'postgres'].map((n) => buildBase(host, n, services)),
  );
  const [result] = await Promise.all([nodeChain, others]);
  return result;
}

/** One `docker build` of the project's Dockerfile, with a progress line per RUN step it runs. */
function build(host, label, args) {
  let step = '';
  return dockerStreamed(
    host,
    [
      'build',
      '--build-arg',
      `BASE_IMAGE=${BASE.node}`,
      '--build-arg',
      `BUILD_IMAGE=${BASE.nodeBuild}`,
      ...args,
      ROOT,
    ],
    {
      env: { DOCKER_BUILDKIT: '0' },
      onOutput: (text) => {
        for (const line of text.split('\n')) {
          if (/^Step \d+\/\d+ : RUN /.test(line)) step = line;
          // A step taken from the build cache prints "Using cache" instead.
          if (step && line.startsWith(' ---> Running in ')) {
            progress(`  ${label}: ${step.slice(0, 100)}`);
            step = '';
          }
        }
      },
    },
  );
}

/**
 * Builds the four app images from the project's Dockerfile on the local Node images: the first
 * builds the stages every app shares (npm ci, better-sqlite3, nest build), the other three take
 * those from the build cache and run side by side. Returns the tag they all carry: a digest of
 * their image ids, so a re-run with unchanged code deploys nothing new.
 */
export async function buildAppImages(host, registry) {
  const image = (app) => `${registry}/api/${app}:build`;
  const one = (app) =>
    timed(`build of ${app}`, () =>
      build(host, app, ['--build-arg', `APP=${app}`, '-t', image(app)]),
    );
  const [first, ...rest] = APPS;
  await one(first);
  await Promise.all(rest.map(one));
  const ids = APPS.map((app) => docker(host, ['image', 'inspect', '-f', '{{.Id}}', image(app)]));
  const tag = createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 12);
  for (const app of APPS) {
    docker(host, ['tag', image(app), `${registry}/api/${app}:${tag}`]);
  }
  return tag;
}
