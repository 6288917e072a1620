/**
 * Splits one direction of a line protocol (SMTP, SIP over TCP) into CRLF- or LF-terminated lines
 * across segments, holding at most `maxLine` bytes of an unfinished line: a longer one is an
 * error (the caller stops parsing that stream), never unbounded growth.
 */
export class LineReader {
  private partial = '';

  constructor(private readonly maxLine: number) {}

  /** Calls `onLine` for each complete line (without its terminator). Returns false when a line is too long. */
  feed(data: Uint8Array, onLine: (line: string, endOffset: number) => boolean | undefined): boolean {
    let p = 0;
    while (p < data.length) {
      const nl = data.indexOf(10, p);
      if (nl < 0) {
        if (this.partial.length + data.length - p > this.maxLine) return false;
        this.partial += Buffer.from(data.buffer, data.byteOffset + p, data.length - p).toString('latin1');
        return true;
      }
      let line = this.partial + Buffer.from(data.buffer, data.byteOffset + p, nl - p).toString('latin1');
      this.partial = '';
      if (line.length > this.maxLine) return false;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      p = nl + 1;
      // A callback returning false takes over the rest of this chunk (e.g. a message body follows).
      if (onLine(line, p) === false) return true;
    }
    return true;
  }

  reset(): void {
    this.partial = '';
  }
}
