import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigurationError } from '../env-validation';
import { readSecretFile } from '../file-secrets';

/** Port of the TLS listener when `TLS_PORT` is not set. */
export const DEFAULT_TLS_PORT = 8443;

/** The TLS listener's certificate chain and key (PEM, read and checked at start) and its port. */
export interface TlsSettings {
  readonly port: number;
  readonly cert: string;
  readonly key: string;
}

/**
 * `TLS_CERT_FILE` and `TLS_KEY_FILE` (PEM files; in Swarm, Docker secrets under /run/secrets) and
 * `TLS_PORT` (8443): `null` when neither file is set. One file without the other, a file that
 * cannot be read, a PEM that does not parse or a key that does not belong to the certificate is a
 * `ConfigurationError` naming the variable, so a half-configured listener never starts.
 */
export function loadTlsSettings(env: NodeJS.ProcessEnv): TlsSettings | null {
  const certFile = nonEmpty(env.TLS_CERT_FILE);
  const keyFile = nonEmpty(env.TLS_KEY_FILE);
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined || keyFile === undefined) {
    const missing = certFile === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE';
    const given = certFile === undefined ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE';
    throw new ConfigurationError(`${missing}: must be set together with ${given}`);
  }
  const port = tlsPort(env.TLS_PORT);
  const cert = readSecretFile('TLS_CERT_FILE', certFile);
  const key = readSecretFile('TLS_KEY_FILE', keyFile);
  try {
    new X509Certificate(cert);
  } catch (err) {
    throw new ConfigurationError(
      `TLS_CERT_FILE: ${certFile} is not a PEM certificate (${(err as Error).message})`,
    );
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new ConfigurationError(
      `TLS_KEY_FILE: ${keyFile} is not a PEM private key (${(err as Error).message})`,
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigurationError(
      `TLS_KEY_FILE: the key in ${keyFile} does not belong to the certificate in ${certFile} ` +
        `(${(err as Error).message})`,
    );
  }
  return { port, cert, key };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function tlsPort(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_TLS_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new ConfigurationError(`TLS_PORT: must be a port from 0 to 65535, got "${value}"`);
  }
  return port;
}
