/** One server-sent event: its `data` lines joined by `\n`, and the optional `event`/`id` fields. */
export interface SseEvent {
  data: string;
  event: string | undefined;
  id: string | undefined;
}

/**
 * An incremental parser for `text/event-stream` (WHATWG HTML §9.2), fed text
 * as it arrives. Network chunks split anywhere — inside a line, between `\r`
 * and `\n` — so the parser keeps whatever has not ended yet. Comments (`:` lines)
 * and unknown fields are ignored; `retry` is irrelevant to a one-shot request.
 */
export class SseParser {
  #buffer = "";
  #skipLeadingLf = false;
  #started = false;
  #data: string[] = [];
  #event: string | undefined;
  #id: string | undefined;

  /** Feeds decoded text and returns the events it completed. */
  push(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let chunk = text;
    if (this.#skipLeadingLf && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.#skipLeadingLf = false;
    if (!this.#started && chunk !== "") {
      this.#started = true;
      if (chunk.startsWith("\uFEFF")) chunk = chunk.slice(1);
    }
    const buffer = this.#buffer + chunk;
    let start = 0;
    let cr = buffer.indexOf("\r");
    let lf = buffer.indexOf("\n");
    for (;;) {
      if (cr !== -1 && cr < start) cr = buffer.indexOf("\r", start);
      if (lf !== -1 && lf < start) lf = buffer.indexOf("\n", start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      this.#line(buffer.slice(start, end), events);
      if (buffer[end] === "\r") {
        if (end + 1 === buffer.length) {
          this.#skipLeadingLf = true;
          start = end + 1;
          break;
        }
        start = buffer[end + 1] === "\n" ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
    this.#buffer = buffer.slice(start);
    return events;
  }

  /**
   * Ends the stream. A last event without its blank line is still returned:
   * the spec would drop it, but a provider that closes right after its final
   * `data:` line meant it.
   */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.#buffer !== "") this.#line(this.#buffer, events);
    this.#buffer = "";
    this.#line("", events);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === "") {
      if (this.#data.length > 0) {
        events.push({ data: this.#data.join("\n"), event: this.#event, id: this.#id });
      }
      this.#data = [];
      this.#event = undefined;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.#data.push(value);
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#id = value;
        break;
    }
  }
}
