import { Module } from '@nestjs/common';
import { ProxyModule } from '../proxy/proxy.module';
import { HOST_RESOLVER, lookupAddresses } from './host-resolver';
import { TargetDiscovery } from './target-discovery';

/** Swarm-style discovery: targets named by a DNS name become one target per address. */
@Module({
  imports: [ProxyModule],
  providers: [{ provide: HOST_RESOLVER, useValue: lookupAddresses }, TargetDiscovery],
  exports: [TargetDiscovery],
})
export class DiscoveryModule {}
