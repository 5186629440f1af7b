/**
 * Lines gathered as UTF-8 into a buffer and handed to `sink` a batch at a time, once a batch holds
 * `batchBytes` or on `flush()`. A batch always ends at the end of a line. The sink may keep a
 * batch it was given (an asynchronous write does): the next lines go to a new buffer.
 */
export class LineBatch {
  private buffer: Buffer;
  private used = 0;
  /** The buffer is twice a batch: past the threshold there is room for a line this long... */
  private readonly lineCharsThatFit: number;

  constructor(
    private readonly sink: (batch: Buffer) => void,
    private readonly batchBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafeSlow(2 * batchBytes);
    // ...as UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.lineCharsThatFit = Math.floor(batchBytes / 3);
  }

  add(line: string): void {
    if (line.length > this.lineCharsThatFit) {
      this.flush();
      this.sink(Buffer.from(line));
      return;
    }
    this.used += this.buffer.write(line, this.used);
    if (this.used >= this.batchBytes) this.flush();
  }

  flush(): void {
    if (this.used === 0) return;
    const batch = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafeSlow(2 * this.batchBytes);
    this.used = 0;
    this.sink(batch);
  }
}
