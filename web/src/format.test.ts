import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TaskPriority, TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import {
  formatAbsolute,
  formatContextLength,
  formatCost,
  formatCount,
  formatDuration,
  formatRelative,
  isActive,
  parseStatus,
  priorityLabel,
  STATUSES,
  spanMs,
  statusChipClass,
  statusLabel,
  taskTitle,
  toDate,
  toMs,
} from "./format";

describe("status", () => {
  it("labels every status with its lowercase word, and parses it back", () => {
    expect(STATUSES.map(statusLabel)).toEqual([
      "pending",
      "queued",
      "running",
      "completed",
      "failed",
      "cancelled",
    ]);
    for (const s of STATUSES) expect(parseStatus(statusLabel(s))).toBe(s);
    expect(parseStatus(" Running ")).toBe(TaskStatus.RUNNING);
    expect(parseStatus("bogus")).toBeUndefined();
    expect(parseStatus("unknown")).toBeUndefined();
  });

  it("names statuses it doesn't know (a newer server) 'unknown' instead of crashing", () => {
    expect(statusLabel(TaskStatus.UNSPECIFIED)).toBe("unknown");
    expect(statusLabel(99 as TaskStatus)).toBe("unknown");
    expect(statusChipClass(99 as TaskStatus)).toBe(statusChipClass(TaskStatus.UNSPECIFIED));
  });

  it("gives each status its own chip colours", () => {
    const classes = new Set(STATUSES.map(statusChipClass));
    expect(classes.size).toBe(STATUSES.length);
  });

  it("is active only while pending, queued or running", () => {
    expect(STATUSES.filter(isActive)).toEqual([
      TaskStatus.PENDING,
      TaskStatus.QUEUED,
      TaskStatus.RUNNING,
    ]);
  });
});

describe("priorityLabel", () => {
  it("reads unspecified as normal, as the server does", () => {
    expect(priorityLabel(TaskPriority.UNSPECIFIED)).toBe("normal");
    expect(priorityLabel(TaskPriority.CRITICAL)).toBe("critical");
    expect(priorityLabel(42 as TaskPriority)).toBe("normal");
  });
});

describe("taskTitle", () => {
  it("prefers the name", () => {
    expect(taskTitle({ name: "  Release notes ", prompt: "Summarise" })).toBe("Release notes");
  });

  it("falls back to the prompt's first non-blank line", () => {
    expect(taskTitle({ name: "", prompt: "\n  Translate this\nto French" })).toBe("Translate this");
  });

  it("shortens long titles with an ellipsis", () => {
    const title = taskTitle({ name: "", prompt: "x".repeat(200) }, 20);
    expect(title).toHaveLength(20);
    expect(title.endsWith("…")).toBe(true);
  });

  it("says 'Untitled task' when there is nothing to show", () => {
    expect(taskTitle({ name: " ", prompt: "  " })).toBe("Untitled task");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 ms"],
    [340.4, "340 ms"],
    [999, "999 ms"],
    [1000, "1.0 s"],
    [2460, "2.4 s"],
    [12_900, "12 s"],
    [60_000, "1 min"],
    [192_000, "3 min 12 s"],
    [3_600_000, "1 h"],
    [7_500_000, "2 h 5 min"],
  ])("%d ms reads %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("shows a dash for unknown or nonsense durations", () => {
    expect(formatDuration(undefined)).toBe("—");
    expect(formatDuration(-5)).toBe("—");
    expect(formatDuration(Number.NaN)).toBe("—");
  });

  it("converts protobuf Durations", () => {
    expect(toMs(durationFromMs(1500))).toBe(1500);
    expect(toMs(undefined)).toBeUndefined();
  });
});

describe("timestamps", () => {
  const now = new Date("2026-03-10T12:00:00Z");
  const ago = (ms: number) => new Date(now.getTime() - ms);

  it.each([
    [0, "just now"],
    [4_000, "just now"],
    [-30_000, "just now"],
    [42_000, "42 s ago"],
    [5 * 60_000, "5 min ago"],
    [3 * 3_600_000, "3 h ago"],
    [2 * 86_400_000, "2 d ago"],
  ])("%d ms ago reads %s", (ms, text) => {
    expect(formatRelative(ago(ms), now)).toBe(text);
  });

  it("shows the calendar date past a week, with the year only when it differs", () => {
    expect(formatRelative(new Date("2026-02-01T12:00:00Z"), now, "en-US")).toBe("Feb 1");
    expect(formatRelative(new Date("2025-12-24T12:00:00Z"), now, "en-US")).toBe("Dec 24, 2025");
  });

  it("formats absolute times with seconds", () => {
    expect(formatAbsolute(new Date(2026, 2, 10, 9, 5, 7), "en-US")).toBe(
      "Mar 10, 2026, 9:05:07 AM",
    );
  });

  it("converts protobuf Timestamps and measures spans between them", () => {
    const created = toDate(timestampFromMs(1_000));
    const started = toDate(timestampFromMs(3_500));
    expect(created?.getTime()).toBe(1_000);
    expect(spanMs(created?.getTime(), started?.getTime())).toBe(2_500);
    expect(spanMs(started?.getTime(), created?.getTime())).toBe(0);
    expect(spanMs(undefined, 5)).toBeUndefined();
    expect(toDate(undefined)).toBeUndefined();
  });
});

describe("numbers", () => {
  it("groups thousands", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
  });

  it("shows costs in dollars, keeping sub-cent costs readable", () => {
    expect(formatCost(0)).toBe("—");
    expect(formatCost(1.5)).toBe("$1.50");
    expect(formatCost(0.00042)).toBe("$0.00042");
    expect(formatCost(0.0012346)).toBe("$0.001235");
    expect(formatCost(9e-7)).toBe("$0.0000009");
  });

  it.each([
    [0, "context unknown"],
    [512, "512 context"],
    [8192, "8k context"],
    [131_072, "128k context"],
    [32_000, "32k context"],
    [1_048_576, "1M context"],
    [2_000_000, "2M context"],
  ])("context length %d reads %s", (tokens, text) => {
    expect(formatContextLength(tokens)).toBe(text);
  });
});
