import { join } from 'node:path';
import { folderGraph, importCycles, importGraph } from './import-graph';

describe('gateway import graph', () => {
  const graph = importGraph(join(__dirname, '..'));

  it('should find the source files and their relative imports', () => {
    expect(graph.get('proxy/proxy.module.ts')).toEqual(
      expect.arrayContaining(['proxy/upstream-registry.ts']),
    );
  });

  it('should report a cycle when one exists', () => {
    const cyclic = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['a.ts']],
    ]);
    expect(importCycles(cyclic)).toEqual([['a.ts', 'b.ts', 'a.ts']]);
  });

  it('should have no cycle between files, type-only imports included', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('should keep discovery above the proxy: discovery feeds the registry, never the reverse', () => {
    const folders = folderGraph(graph);
    expect(folders.get('discovery')).toContain('proxy');
    expect(folders.get('proxy')).not.toContain('discovery');
  });
});
