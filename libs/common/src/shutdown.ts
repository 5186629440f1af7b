import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';

/** Flips readiness to "draining" the moment shutdown starts, so health checks fail before the server closes. */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  beginDrain(): void {
    this.draining = true;
  }

  beforeApplicationShutdown(): void {
    this.draining = true;
  }
}
