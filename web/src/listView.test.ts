import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ListTasksRequestSchema, TaskPriority, TaskSort, TaskStatus } from "@promptline/proto";
import { describe, expect, it } from "vitest";
import {
  isFiltered,
  listFilter,
  listRequest,
  listViewParams,
  localDayStart,
  parseListView,
  rangeIsBackwards,
} from "./listView";

describe("list view in the URL", () => {
  it("round-trips every filter and the order through the address", () => {
    const url = new URLSearchParams(
      "status=failed&status=cancelled&q=report&model=simulator%2Fecho&priority=high&from=2026-11-01&to=2026-11-24&sort=oldest&meta=team%3Ared&meta=area%3Asearch",
    );
    const view = parseListView(url);
    expect(view).toEqual({
      statuses: [TaskStatus.FAILED, TaskStatus.CANCELLED],
      query: "report",
      model: "simulator/echo",
      priority: TaskPriority.HIGH,
      from: "2026-11-01",
      to: "2026-11-24",
      sort: TaskSort.OLDEST_FIRST,
      metadata: { team: "red", area: "search" },
    });
    expect(listViewParams(view).toString()).toBe(url.toString());
    expect(isFiltered(view)).toBe(true);
  });

  it("ignores what it doesn't know and leaves defaults out of the address", () => {
    const view = parseListView(
      new URLSearchParams(
        "status=bogus&status=running&status=running&priority=urgent&from=2026-02-31&to=yesterday&sort=random",
      ),
    );
    expect(view).toEqual({
      statuses: [TaskStatus.RUNNING],
      query: "",
      model: "",
      priority: TaskPriority.UNSPECIFIED,
      from: "",
      to: "",
      sort: TaskSort.NEWEST_FIRST,
      metadata: {},
    });
    expect(listViewParams(view).toString()).toBe("status=running");
    expect(isFiltered({ ...view, statuses: [] })).toBe(false);
  });

  it("turns local days into a created range that includes the whole last day", () => {
    const view = parseListView(new URLSearchParams("from=2026-03-28&to=2026-03-29"));
    const req = create(ListTasksRequestSchema, listRequest(view));
    expect(req.createdAfter && timestampMs(req.createdAfter)).toBe(new Date(2026, 2, 28).getTime());
    expect(req.createdBefore && timestampMs(req.createdBefore)).toBe(
      new Date(2026, 2, 30).getTime(),
    );
    expect(localDayStart("2026-13-01")).toBeUndefined();
    expect(listRequest(parseListView(new URLSearchParams(""))).createdAfter).toBeUndefined();
  });

  it("gives the live list the same range as the request, in epoch ms", () => {
    const view = parseListView(new URLSearchParams("status=failed&from=2026-03-28&to=2026-03-29"));
    expect(listFilter(view)).toMatchObject({
      statuses: [TaskStatus.FAILED],
      createdAfterMs: new Date(2026, 2, 28).getTime(),
      createdBeforeMs: new Date(2026, 2, 30).getTime(),
    });
    const open = listFilter(parseListView(new URLSearchParams("")));
    expect(open.createdAfterMs).toBeUndefined();
    expect(open.createdBeforeMs).toBeUndefined();
  });

  it("spots a range that ends before it starts", () => {
    const view = parseListView(new URLSearchParams("from=2026-11-24&to=2026-11-01"));
    expect(rangeIsBackwards(view)).toBe(true);
    expect(rangeIsBackwards({ ...view, to: "" })).toBe(false);
  });
});

describe("metadata in the URL", () => {
  it("drops a pair that doesn't read, like any other unknown value", () => {
    expect(parseListView(new URLSearchParams("meta=oops&meta=team:red")).metadata).toEqual({
      team: "red",
    });
  });
});
