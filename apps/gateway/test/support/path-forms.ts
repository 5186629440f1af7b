/**
 * Path segments a path check must see through or refuse: dot segments, encoded dots, slashes and
 * backslashes, NUL, broken escapes and characters that end a path.
 */
export const DOT_AND_ESCAPE_FORMS = [
  '',
  '.',
  '..',
  '%2e',
  '%2E%2e',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%00',
  '%',
  '%4',
  '%zz',
  '\\',
  '#',
] as const;
