/** Headers the gateway sets from a verified token; a client-sent copy is always dropped. */
export const IDENTITY_HEADERS = {
  userId: 'x-user-id',
  email: 'x-user-email',
  roles: 'x-user-roles',
} as const;

export const ADMIN_ROLE = 'admin';

/** A role name: a plain token, since roles travel comma-separated in `X-User-Roles`. */
export const ROLE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The caller as the gateway vouches for it. `roles` travels comma-separated. */
export interface Identity {
  userId: number;
  email?: string;
  roles: string[];
}
