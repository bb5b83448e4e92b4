import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createConnectionMonitor } from "./connection";

describe("createConnectionMonitor", () => {
  it("flips to unreachable on an outage and back on any answer, notifying once per change", () => {
    const monitor = createConnectionMonitor();
    let changes = 0;
    const unsubscribe = monitor.subscribe(() => changes++);
    expect(monitor.getSnapshot()).toBe("reachable");

    monitor.report(new ConnectError("HTTP 503", Code.Unavailable));
    monitor.report(new ConnectError("HTTP 503", Code.Unavailable));
    expect(monitor.getSnapshot()).toBe("unreachable");
    expect(changes).toBe(1);

    // A "no" from the server still proves it is there.
    monitor.report(new ConnectError("no such task", Code.NotFound));
    expect(monitor.getSnapshot()).toBe("reachable");
    expect(changes).toBe(2);

    unsubscribe();
    monitor.report(new ConnectError("", Code.Unavailable));
    expect(changes).toBe(2);
  });
});
