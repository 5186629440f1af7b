/** Who may use a route: anyone, any signed-in user, or a user holding one role. */
export type AuthPolicy =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'role'; readonly role: string };

export const PUBLIC: AuthPolicy = Object.freeze({ kind: 'public' });
export const AUTHENTICATED: AuthPolicy = Object.freeze({ kind: 'authenticated' });

/** Role names travel comma-separated in `X-User-Roles`, so they are plain tokens. */
export const ROLE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Reads the config spelling: `public`, `authenticated` or `role:<name>`. */
export function parseAuthPolicy(text: string): AuthPolicy {
  if (text === 'public') return PUBLIC;
  if (text === 'authenticated') return AUTHENTICATED;
  if (text.startsWith('role:')) {
    const role = text.slice('role:'.length);
    if (ROLE_NAME.test(role)) return Object.freeze({ kind: 'role', role });
  }
  throw new Error(`unknown auth policy "${text}": expected public, authenticated or role:<name>`);
}

export function formatAuthPolicy(policy: AuthPolicy): string {
  return policy.kind === 'role' ? `role:${policy.role}` : policy.kind;
}
