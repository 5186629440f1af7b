import { canonicalEmail, emailSkeleton } from './email';

describe('canonicalEmail', () => {
  it('should drop surrounding white space and lower-case the whole address', () => {
    expect(canonicalEmail('  Ada.Lovelace@Example.COM \t')).toBe('ada.lovelace@example.com');
  });

  it('should fold compatibility forms (NFKC): full-width letters are plain letters', () => {
    expect(canonicalEmail('ａｄａ@ｅｘａｍｐｌｅ.com')).toBe('ada@example.com');
  });

  it('should give one spelling to composed and decomposed accents', () => {
    expect(canonicalEmail('jose\u0301@example.com')).toBe(canonicalEmail('josé@example.com'));
  });

  it('should write an internationalised domain in its ASCII form', () => {
    expect(canonicalEmail('ada@Bücher.de')).toBe('ada@xn--bcher-kva.de');
    expect(canonicalEmail('ada@xn--bcher-kva.de')).toBe('ada@xn--bcher-kva.de');
  });
});

describe('emailSkeleton', () => {
  it('should read letters of other scripts that look Latin as the Latin letter', () => {
    // Cyrillic а and о, Greek ο.
    expect(emailSkeleton(canonicalEmail('p\u0430yp\u0430l@example.com'))).toBe(
      emailSkeleton('paypal@example.com'),
    );
    expect(emailSkeleton('g\u043e\u03bfgle@example.com')).toBe(emailSkeleton('google@example.com'));
  });

  it('should read rn as m, 0 as o and 1 as l, and ignore invisible characters', () => {
    expect(emailSkeleton('rnary@examp1e.c0m')).toBe(emailSkeleton('mary@example.com'));
    expect(emailSkeleton('ad\u200ba@example.com')).toBe(emailSkeleton('ada@example.com'));
  });

  it('should keep addresses that merely differ apart', () => {
    expect(emailSkeleton('ada@example.com')).not.toBe(emailSkeleton('adb@example.com'));
    expect(emailSkeleton('josé@example.com')).not.toBe(emailSkeleton('jose@example.com'));
  });
});
