#!/usr/bin/env node
// npm run swarm:down: removes what swarm:up made: the stack, its secrets, configs, volumes and
// images, the swarm if swarm:up made it, and the engine if swarm:up started it (with its data).
// The debootstrap tarball in the cache folder (SWARM_CACHE_DIR, default ~/.cache/api-swarm) stays;
// SWARM_PURGE_CACHE=1 removes it too.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { docker, findEngine, progress, readState, sleep, STATE_DIR } from './swarm/docker.mjs';
import { removeStack, SECRET_NAMES } from './swarm/stack.mjs';

const names = (host, args) => docker(host, args).split('\n').filter(Boolean);

async function main() {
  const state = readState();
  const host = findEngine();
  if (!host) {
    progress('no Docker engine answers; removing the state folder only');
  } else {
    const inSwarm = docker(host, ['info', '--format', '{{.Swarm.LocalNodeState}}']) === 'active';
    if (inSwarm) await removeStack(host);
    for (const secret of inSwarm ? SECRET_NAMES : []) {
      docker(host, ['secret', 'rm', secret], { allowFailure: true });
    }
    // An engine swarm:up started goes with its data root below: its images need no removal.
    const images = state.startedEngine
      ? []
      : names(host, ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).filter((image) =>
          image.startsWith('api-local/'),
        );
    if (images.length > 0) {
      progress(`removing ${images.length} images`);
      docker(host, ['image', 'rm', '-f', ...images], { allowFailure: true });
      docker(host, ['image', 'prune', '-f'], { allowFailure: true });
      docker(host, ['builder', 'prune', '-f'], { allowFailure: true });
    }
    if (inSwarm && state.initialisedSwarm) {
      progress('docker swarm leave --force');
      docker(host, ['swarm', 'leave', '--force'], { allowFailure: true });
    }
  }
  const pidFile = join(STATE_DIR, 'engine', 'docker.pid');
  if (state.startedEngine && existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    progress(`stopping the dockerd swarm:up started (pid ${pid})`);
    try {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        process.kill(pid, 0);
        await sleep(500);
      }
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    // dockerd leaves overlay mounts under its data root; unmount before removing it.
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1])
      .filter((path) => path && path.startsWith(join(STATE_DIR, 'engine')))
      .reverse();
    for (const path of mounts) {
      const { spawnSync } = await import('node:child_process');
      spawnSync('umount', ['-l', path]);
    }
  }
  rmSync(STATE_DIR, { recursive: true, force: true });
  if (process.env.SWARM_PURGE_CACHE === '1') {
    const cache =
      process.env.SWARM_CACHE_DIR ||
      join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'api-swarm');
    rmSync(cache, { recursive: true, force: true });
  }
  progress('down');
}

main().catch((error) => {
  console.error(`swarm:down failed: ${error.message}`);
  process.exit(1);
});
