import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { compileConfigSchema } from './gateway-config.loader';
import { SCHEMA_FILE, schemaFileText } from './gateway-config.schema';

const ROOT = join(__dirname, '..', '..', '..', '..');
const CONFIG_FILES = ['config/gateway.local.yaml', 'config/gateway.swarm.yaml'];

describe('the published gateway config schema', () => {
  const published = readFileSync(join(ROOT, SCHEMA_FILE), 'utf8');

  it('should be the schema of the source, regenerated (npm run config:schema)', () => {
    expect(published).toBe(schemaFileText());
  });

  it.each(CONFIG_FILES)('should be named by %s for editors, and accept it', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./gateway.schema.json');
    const validate = compileConfigSchema(JSON.parse(published) as object);
    expect(validate(parseYaml(text))).toBe(true);
    expect(validate({ ...parseYaml(text), services: [{ name: 'x' }] })).toBe(false);
  });
});
