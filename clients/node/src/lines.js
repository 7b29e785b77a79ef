// Splits a byte stream into lines on 0x0A and decodes each complete line as UTF-8.
//
// Splitting happens on bytes, never on decoded text, so a multi-byte character cut by a read
// boundary is whole again by the time its line is decoded. A line may span any number of
// chunks (results can be tens of MB): the pieces are kept as Buffers and concatenated once,
// when the newline arrives.

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class LineSplitter {
  /** @type {Buffer[]} */
  #parts = [];
  #partBytes = 0;
  #decoder = new TextDecoder('utf-8');
  /** @type {(line: string) => void} */
  #onLine;

  /** @param {(line: string) => void} onLine called with each non-blank line, without its `\n` */
  constructor(onLine) {
    this.#onLine = onLine;
  }

  /** Bytes held for a line whose newline has not arrived yet. */
  get pendingBytes() {
    return this.#partBytes;
  }

  /** @param {Buffer} chunk */
  push(chunk) {
    let start = 0;
    let newline;
    while ((newline = chunk.indexOf(NEWLINE, start)) !== -1) {
      let line;
      if (this.#partBytes === 0) {
        line = chunk.subarray(start, newline);
      } else {
        this.#parts.push(chunk.subarray(start, newline));
        line = Buffer.concat(this.#parts, this.#partBytes + newline - start);
        this.#parts = [];
        this.#partBytes = 0;
      }
      start = newline + 1;
      this.#emit(line);
    }
    if (start < chunk.length) {
      this.#parts.push(chunk.subarray(start));
      this.#partBytes += chunk.length - start;
    }
  }

  /** Emits a last line that had no newline (the stream ended). */
  end() {
    if (this.#partBytes > 0) {
      const line = Buffer.concat(this.#parts, this.#partBytes);
      this.#parts = [];
      this.#partBytes = 0;
      this.#emit(line);
    }
  }

  /** @param {Buffer} bytes */
  #emit(bytes) {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === CARRIAGE_RETURN) end -= 1;
    if (end === 0) return;
    this.#onLine(this.#decoder.decode(bytes.subarray(0, end)));
  }
}
