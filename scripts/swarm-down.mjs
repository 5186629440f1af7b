#!/usr/bin/env node
// npm run swarm:down: removes what swarm:up made: the stack, its secrets, configs, volumes and
// images, the swarm if swarm:up made it, and the engine if swarm:up started it (with its data).
// The base-image cache (~/.cache/api-swarm) stays; SWARM_PURGE_CACHE=1 removes it too.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  docker,
  findEngine,
  progress,
  readState,
  sleep,
  STACK_NAME,
  STATE_DIR,
} from './swarm/docker.mjs';
import { SECRET_NAMES } from './swarm/stack.mjs';

const names = (host, args) => docker(host, args).split('\n').filter(Boolean);

async function main() {
  const state = readState();
  const host = findEngine();
  if (!host) {
    progress('no Docker engine answers; removing the state folder only');
  } else {
    const inSwarm = docker(host, ['info', '--format', '{{.Swarm.LocalNodeState}}']) === 'active';
    if (inSwarm) {
      progress(`docker stack rm ${STACK_NAME}`);
      docker(host, ['stack', 'rm', STACK_NAME]);
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
      for (const secret of SECRET_NAMES) {
        docker(host, ['secret', 'rm', secret], { allowFailure: true });
      }
      for (const config of names(host, ['config', 'ls', '--format', '{{.Name}}'])) {
        if (config.startsWith(`${STACK_NAME}_`)) docker(host, ['config', 'rm', config]);
      }
    }
    for (const volume of names(host, ['volume', 'ls', '-q'])) {
      if (volume.startsWith(`${STACK_NAME}_`)) {
        docker(host, ['volume', 'rm', volume], { allowFailure: true });
      }
    }
    const images = names(host, ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).filter(
      (image) => image.startsWith('api-local/'),
    );
    if (images.length > 0) {
      progress(`removing ${images.length} images`);
      docker(host, ['image', 'rm', '-f', ...images], { allowFailure: true });
    }
    docker(host, ['image', 'prune', '-f'], { allowFailure: true });
    docker(host, ['builder', 'prune', '-f'], { allowFailure: true });
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
    rmSync(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'api-swarm'), {
      recursive: true,
      force: true,
    });
  }
  progress('down');
}

main().catch((error) => {
  console.error(`swarm:down failed: ${error.message}`);
  process.exit(1);
});
