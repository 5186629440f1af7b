// Writes config/gateway.schema.json from the schema in the gateway's source (`npm run config:schema`);
// a unit test fails while the file and the source differ.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_FILE, schemaFileText } from '../apps/gateway/src/routing/gateway-config.schema';

const file = join(__dirname, '..', SCHEMA_FILE);
writeFileSync(file, schemaFileText());
console.log(`wrote ${file}`);
