import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCert, SelfSignedCert } from '../../../../test/support/self-signed-cert';
import { DEFAULT_TLS_PORT, loadTlsSettings } from './tls-settings';

/** A pattern for a message that starts with `text` (OpenSSL's reason may follow). */
function startingWith(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
}

describe('loadTlsSettings', () => {
  let dir: string;
  let one: { cert: string; key: string };
  let other: { cert: string; key: string };
  const made: SelfSignedCert[] = [];
  const selfSigned = (): { cert: string; key: string } => {
    const cert = selfSignedCert();
    made.push(cert);
    return { cert: cert.certFile, key: cert.keyFile };
  };
  let garbage: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tls-settings-'));
    one = selfSigned();
    other = selfSigned();
    garbage = join(dir, 'garbage.pem');
    writeFileSync(
      garbage,
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const cert of made) cert.remove();
  });

  it('should be off when neither file is set (or both are empty)', () => {
    expect(loadTlsSettings({})).toBeNull();
    expect(loadTlsSettings({ TLS_CERT_FILE: '', TLS_KEY_FILE: '' })).toBeNull();
  });

  it('should read both PEM files, on port 8443 unless TLS_PORT says otherwise', () => {
    const settings = loadTlsSettings({ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: one.key });
    expect(settings).toEqual({
      port: DEFAULT_TLS_PORT,
      cert: readFileSync(one.cert, 'utf8').trimEnd(),
      key: readFileSync(one.key, 'utf8').trimEnd(),
    });
    expect(
      loadTlsSettings({ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: one.key, TLS_PORT: '9443' })?.port,
    ).toBe(9443);
  });

  it.each([
    [{ TLS_CERT_FILE: 'x.crt' }, 'TLS_KEY_FILE: must be set together with TLS_CERT_FILE'],
    [{ TLS_KEY_FILE: 'x.key' }, 'TLS_CERT_FILE: must be set together with TLS_KEY_FILE'],
  ])('should refuse one file without the other: %j', (env, message) => {
    expect(() => loadTlsSettings(env)).toThrow(`Invalid configuration: ${message}`);
  });

  it('should name the variable of a file that cannot be read', () => {
    expect(() =>
      loadTlsSettings({ TLS_CERT_FILE: join(dir, 'missing.crt'), TLS_KEY_FILE: one.key }),
    ).toThrow(/^Invalid configuration: TLS_CERT_FILE: cannot read .*missing\.crt/);
    expect(() =>
      loadTlsSettings({ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: join(dir, 'missing.key') }),
    ).toThrow(/^Invalid configuration: TLS_KEY_FILE: cannot read .*missing\.key/);
  });

  it('should name the variable of a file that is not PEM of its kind', () => {
    expect(() => loadTlsSettings({ TLS_CERT_FILE: garbage, TLS_KEY_FILE: one.key })).toThrow(
      /^Invalid configuration: TLS_CERT_FILE: .*garbage\.pem is not a PEM certificate/,
    );
    // A certificate where the key should be.
    expect(() => loadTlsSettings({ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: one.cert })).toThrow(
      startingWith(`Invalid configuration: TLS_KEY_FILE: ${one.cert} is not a PEM private key`),
    );
  });

  it('should refuse a key that does not belong to the certificate', () => {
    expect(() => loadTlsSettings({ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: other.key })).toThrow(
      startingWith(
        `Invalid configuration: TLS_KEY_FILE: the key in ${other.key} does not belong to the certificate in ${one.cert}`,
      ),
    );
  });

  it.each(['https', '-1', '65536', '8443.5'])('should refuse TLS_PORT=%s', (port) => {
    expect(() =>
      loadTlsSettings({ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: one.key, TLS_PORT: port }),
    ).toThrow(`Invalid configuration: TLS_PORT: must be a port from 0 to 65535, got "${port}"`);
  });
});
