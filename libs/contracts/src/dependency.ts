/**
 * Set on a 5xx a service answers because something it depends on (a peer service, its store) is
 * down; the value names that dependency. The replica itself is alive: the gateway does not count
 * such an answer towards ejecting it (docs/adr/0001-gateway-proxy-path.md, "Upstream health").
 */
export const DEPENDENCY_UNAVAILABLE_HEADER = 'x-dependency-unavailable';
