import { LineBatch } from './line-batch';

describe('LineBatch', () => {
  const BATCH = 1024;

  /** A sink that keeps every batch it is given, as an asynchronous write does until it is done. */
  function keptBatches(): { batches: Buffer[]; batch: LineBatch } {
    const batches: Buffer[] = [];
    return { batches, batch: new LineBatch((b) => batches.push(b), BATCH) };
  }

  const lines = Array.from({ length: 500 }, (_, i) => {
    const text = i % 7 === 0 ? 'é€😀'.repeat(i % 40) : 'x'.repeat(i % 90);
    return `{"n":${i},"text":"${text}"}\n`;
  });

  it('should hand over every line once, in order and whole, while earlier batches are still held', () => {
    const { batches, batch } = keptBatches();
    for (const line of lines) batch.add(line);
    batch.flush();
    expect(Buffer.concat(batches).toString('utf8')).toBe(lines.join(''));
  });

  it('should cut batches at line ends once they reach the batch size', () => {
    const { batches, batch } = keptBatches();
    for (const line of lines) batch.add(line);
    batch.flush();
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) expect(b.at(-1)).toBe(0x0a);
    for (const b of batches.slice(0, -1)) expect(b.length).toBeGreaterThanOrEqual(BATCH);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThan(2 * BATCH);
  });

  it('should write a line too long for the room left on its own, after what came before it', () => {
    const { batches, batch } = keptBatches();
    const long = `${'😀'.repeat(BATCH)}\n`;
    batch.add('first\n');
    batch.add(long);
    batch.add('last\n');
    batch.flush();
    expect(batches.map((b) => b.toString('utf8'))).toEqual(['first\n', long, 'last\n']);
  });

  it('should hand over nothing for a flush with no lines', () => {
    const { batches, batch } = keptBatches();
    batch.flush();
    expect(batches).toEqual([]);
  });
});
