import { APP_PINO } from '@app/common';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { FSWatcher, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { GATEWAY_SETTINGS, GatewaySettings } from '../routing/gateway-env';
import { ConfigReloader } from './config-reloader';

/** Editors write a file in several steps (truncate, write, rename): one reload after they settle. */
export const FILE_SETTLE_MS = 300;

/**
 * What starts a reload: SIGHUP, and (unless `GATEWAY_CONFIG_WATCH=false`) a change of the config
 * file. The file's directory is watched rather than the file, so that an editor or a
 * `kubectl`/Swarm-style update that replaces the file by a rename keeps being seen; a burst of
 * events becomes one reload `FILE_SETTLE_MS` after the last, and one that left the bytes as they
 * were changes nothing.
 */
@Injectable()
export class ConfigReloadTriggers implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly file: string;
  private readonly watchFile: boolean;
  private watcher: FSWatcher | null = null;
  private settle: NodeJS.Timeout | null = null;
  private readonly onSighup = () => void this.reloader.reload('SIGHUP');

  constructor(
    private readonly reloader: ConfigReloader,
    config: ConfigService,
    @Inject(APP_PINO) private readonly logger: Logger,
  ) {
    const settings = config.getOrThrow<GatewaySettings>(GATEWAY_SETTINGS);
    this.file = resolve(settings.configFile);
    this.watchFile = settings.watchConfig;
  }

  onApplicationBootstrap(): void {
    process.on('SIGHUP', this.onSighup);
    if (this.watchFile) this.startWatching();
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onSighup);
    if (this.settle !== null) clearTimeout(this.settle);
    this.settle = null;
    this.watcher?.close();
    this.watcher = null;
  }

  private startWatching(): void {
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        // `..data` and the like: a mounted config directory swapped its contents under a link.
        if (changed !== null && changed !== name && !changed.startsWith('..')) return;
        if (this.settle !== null) clearTimeout(this.settle);
        this.settle = setTimeout(() => {
          this.settle = null;
          this.reloader.reload('file');
        }, FILE_SETTLE_MS);
        this.settle.unref();
      });
    } catch (err) {
      this.logger.warn({
        msg: 'config file not watched; SIGHUP still reloads it',
        file: this.file,
        err: (err as Error).message,
      });
      return;
    }
    this.watcher.on('error', (err) => {
      this.logger.warn({
        msg: 'config file no longer watched; SIGHUP still reloads it',
        file: this.file,
        err: err.message,
      });
      this.watcher?.close();
      this.watcher = null;
    });
  }
}
