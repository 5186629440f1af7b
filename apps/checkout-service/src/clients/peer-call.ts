import { DependencyUnavailableException, ReplicaCaller } from '@app/common';
import { BadGatewayException } from '@nestjs/common';
import type { AxiosResponse } from 'axios';

/** Every replica of a peer failed or timed out: the caller may retry later, nothing was decided. */
export class UpstreamUnavailableException extends DependencyUnavailableException {
  constructor(readonly service: string) {
    super(service);
  }
}

/** A peer answered, but not in a way its contract allows (say a 500 or a malformed body). */
export class UpstreamFailedException extends BadGatewayException {
  constructor(
    readonly service: string,
    status: number,
  ) {
    super(`${service} gave an unexpected answer (status ${status})`);
  }
}

/**
 * The first answer to a GET that is not a 502/503/504, from any replica of the peer.
 * @throws UpstreamUnavailableException when every try failed.
 */
export async function getFromPeer<T>(
  caller: ReplicaCaller,
  path: string,
  headers: Record<string, string>,
): Promise<AxiosResponse<T>> {
  const outcome = await caller.call<T>({ method: 'GET', path, headers });
  if (outcome.kind === 'unavailable') throw new UpstreamUnavailableException(caller.service);
  return outcome.response;
}
