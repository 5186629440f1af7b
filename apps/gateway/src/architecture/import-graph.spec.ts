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

  it('should point every import between folders downward, never sideways or up', () => {
    // Top to bottom; a folder may import only folders of lower layers.
    const layers = [
      ['.'],
      ['openapi'],
      ['admin', 'health', 'discovery'],
      ['reload'],
      ['proxy'],
      ['auth', 'rate-limit', 'cache'],
      ['redis', 'routing', 'metrics'],
      ['architecture'],
    ];
    const layerOf = new Map(layers.flatMap((names, depth) => names.map((n) => [n, depth])));
    const wrong: string[] = [];
    for (const [from, targets] of folderGraph(graph)) {
      expect(layerOf.has(from)).toBe(true);
      for (const to of targets) {
        if (layerOf.get(to)! <= layerOf.get(from)!) wrong.push(`${from} -> ${to}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
