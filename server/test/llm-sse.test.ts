import { describe, expect, it } from "vitest";
import { type SseEvent, SseParser } from "../src/llm/sse.js";

function parseAll(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  return [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];
}

const data = (events: SseEvent[]) => events.map((e) => e.data);

describe("SseParser", () => {
  it("parses data events and the [DONE] sentinel", () => {
    expect(data(parseAll(['data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n']))).toEqual([
      '{"a":1}',
      '{"a":2}',
      "[DONE]",
    ]);
  });

  it("joins multi-line data with newlines and strips one leading space only", () => {
    expect(data(parseAll(['data:{"a":\ndata:  1}\n\n']))).toEqual(['{"a":\n 1}']);
  });

  it("ignores comments, unknown fields and empty events; keeps event and id", () => {
    const events = parseAll([
      ": keep-alive\n\nretry: 10\nevent: message\nid: 7\nfoo: bar\ndata: x\n\n\n\n",
    ]);
    expect(events).toEqual([{ data: "x", event: "message", id: "7" }]);
  });

  it("accepts CRLF, CR and LF line endings, mixed", () => {
    expect(data(parseAll(["data: a\r\n\r\ndata: b\r\rdata: c\n\n"]))).toEqual(["a", "b", "c"]);
  });

  it("gives the same events however the stream is split", () => {
    const stream =
      '\uFEFF: hi\r\ndata: {"x":"é🌍"}\r\n\r\nevent: e\ndata: one\ndata: two\n\ndata:[DONE]\n\n';
    const expected = data(parseAll([stream]));
    expect(expected).toEqual(['{"x":"é🌍"}', "one\ntwo", "[DONE]"]);
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j += 3) {
        expect(data(parseAll([stream.slice(0, i), stream.slice(i, j), stream.slice(j)]))).toEqual(
          expected,
        );
      }
    }
    expect(data(parseAll([...stream]))).toEqual(expected);
  });

  it("does not split a CR LF pair that straddles two chunks into two lines", () => {
    expect(data(parseAll(["data: a\r", "\ndata: b\r", "\n\r", "\n"]))).toEqual(["a\nb"]);
  });

  it("returns a last event that lacks its blank line when the stream ends", () => {
    expect(data(parseAll(["data: a\n\ndata: tail"]))).toEqual(["a", "tail"]);
  });
});
