// Run by the Dockerfile on each app's pruned node_modules: follows the compiled code's require()
// calls from the app's entry and fails the build if any package it can load does not resolve (a
// package pruned by mistake would otherwise fail only when a container starts).
const { existsSync, readFileSync, statSync } = require('node:fs');
const { builtinModules } = require('node:module');
const { dirname, resolve } = require('node:path');

const entry = resolve(process.argv[2]);
const seen = new Set();
const missing = new Set();
const pending = [entry];
while (pending.length > 0) {
  const file = pending.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
    if (spec.startsWith('.')) {
      const base = resolve(dirname(file), spec);
      const found = [base, `${base}.js`, `${base}/index.js`].find(
        (f) => existsSync(f) && statSync(f).isFile(),
      );
      if (found) pending.push(found);
      else missing.add(`${spec} (from ${file})`);
    } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
      try {
        require.resolve(spec, { paths: [dirname(file)] });
      } catch {
        missing.add(`${spec} (from ${file})`);
      }
    }
  }
}
if (missing.size > 0) {
  console.error(`${entry} cannot load: ${[...missing].join(', ')}`);
  process.exit(1);
}
console.log(`${entry}: ${seen.size} files, every package they load resolves`);
