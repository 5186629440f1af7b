import { checkJoseStructure, hasDuplicateMember } from './jose-structure';

const part = (text: string) => Buffer.from(text).toString('base64url');

describe('hasDuplicateMember', () => {
  it.each([
    ['{"a":1,"a":2}', true],
    ['{"a":1,"\\u0061":2}', true],
    ['{"a":{"b":1,"b":1}}', true],
    ['[{"a":1},{"a":1}]', false],
    ['{"a":"{\\"a\\":1,","b":["a","a"]}', false],
    ['{"a":{"a":1},"b":{"a":1}}', false],
    ['{}', false],
  ])('%s → %s', (json, duplicate) => {
    expect(hasDuplicateMember(json)).toBe(duplicate);
  });
});

describe('checkJoseStructure', () => {
  it('should pass a plain three-part token on to the signature check', () => {
    expect(
      checkJoseStructure(`${part('{"alg":"HS256","typ":"JWT"}')}.${part('{}')}.sig`),
    ).toBeNull();
  });

  it.each([
    ['two parts', `${part('{"alg":"HS256"}')}.${part('{}')}`, 'malformed token'],
    ['four parts', 'a.b.c.d', 'malformed token'],
    ['five parts', 'a.b.c.d.e', 'encrypted tokens are not accepted'],
  ])('should refuse %s', (_, token, description) => {
    expect(checkJoseStructure(token)).toBe(description);
  });
});
