import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed P-256 certificate for localhost and 127.0.0.1, valid one day, in its own directory. */
export interface SelfSignedCert {
  certFile: string;
  keyFile: string;
  /** The certificate, which clients trust as their only CA. */
  ca: Buffer;
  /** Removes the directory. */
  remove(): void;
}

/** Made by the openssl CLI, as an operator would make one. */
export function selfSignedCert(): SelfSignedCert {
  const dir = mkdtempSync(join(tmpdir(), 'tls-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return {
    certFile,
    keyFile,
    ca: readFileSync(certFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
