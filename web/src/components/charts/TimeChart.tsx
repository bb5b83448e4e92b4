import "uplot/dist/uPlot.min.css";
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import { useTheme } from "../ThemeToggle";

/** The colours a series can take: tokens from styles.css, so dark mode has its own. */
export type ChartColor = "good" | "bad" | "neutral" | "1" | "2";

/** One line of a {@link TimeChart}. */
export interface ChartSeries {
  label: string;
  /** One value per time; null where there is nothing to plot (a gap, not a zero). */
  values: readonly (number | null)[];
  color: ChartColor;
}

/** Props for {@link TimeChart}. */
export interface TimeChartProps {
  /** Start of each bucket, in seconds since the epoch. */
  times: readonly number[];
  series: readonly ChartSeries[];
  /** How a value reads on the axis and in the readout. */
  format: (value: number) => string;
  /** What the chart shows, in words, for people who can't see it. */
  summary: string;
  /** Whole-number ticks only (counts, milliseconds): no "0.5 tasks". */
  integer?: boolean;
  height?: number;
  /** For browser tests. */
  testId?: string;
}

function token(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

// 1, 2, 5, 10, 20, 50, … up to 5e9: tick steps for whole-number axes.
const WHOLE_STEPS = Array.from({ length: 30 }, (_, i) => [1, 2, 5][i % 3] ?? 1).map(
  (step, i) => step * 10 ** Math.floor(i / 3),
);

function timeLabel(seconds: number, spanSeconds: number): string {
  const date = new Date(seconds * 1000);
  return spanSeconds > 86_400 ? dayAndTime.format(date) : timeOfDay.format(date);
}

/**
 * A line chart over time, drawn by uPlot on a canvas (small and fast with
 * thousands of points). The canvas is hidden from assistive tech; `summary`
 * says what it shows, and the readout under it gives the values at the
 * pointer. Colours come from the theme tokens, so the chart is redrawn when
 * the theme changes; its width follows its container.
 */
export function TimeChart({
  times,
  series,
  format,
  summary,
  integer = false,
  height = 180,
  testId,
}: TimeChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useTheme();
  const [hover, setHover] = useState<number | null>(null);
  const data: uPlot.AlignedData = [Array.from(times), ...series.map((s) => Array.from(s.values))];
  const dataRef = useRef(data);
  dataRef.current = data;
  const shape = series.map((s) => `${s.label}:${s.color}:${s.values.includes(null)}`).join("|");

  // biome-ignore lint/correctness/useExhaustiveDependencies: rebuilt only when the series' shape, the format or the theme changes; new values go through setData below.
  useEffect(() => {
    const el = container.current;
    if (el === null) return;
    const axisColor = token("--pl-fg-muted");
    const gridColor = token("--pl-line");
    const span = (times.at(-1) ?? 0) - (times[0] ?? 0);
    const axis: uPlot.Axis = {
      stroke: axisColor,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
      font: "11px system-ui, sans-serif",
    };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: token(`--pl-chart-${s.color}`),
          width: 2,
          // A bucket between two empty ones would be a line of no length: mark every value.
          points: { show: s.values.includes(null), size: 5, fill: token(`--pl-chart-${s.color}`) },
        })),
      ],
      axes: [
        { ...axis, space: 80, values: (_u, ticks) => ticks.map((t) => timeLabel(t, span)) },
        {
          ...axis,
          size: 60,
          ...(integer ? { incrs: WHOLE_STEPS } : {}),
          values: (_u, ticks) => ticks.map((t) => format(t)),
        },
      ],
      hooks: {
        setCursor: [(u) => setHover(u.cursor.idx ?? null)],
      },
    };
    const chart = new uPlot(opts, dataRef.current, el);
    plot.current = chart;
    const resize = new ResizeObserver(() => {
      chart.setSize({ width: Math.max(200, el.clientWidth), height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape, theme, height, format, integer]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  const at = hover === null ? undefined : times[hover];
  return (
    <div data-testid={testId}>
      <div ref={container} aria-hidden="true" className="w-full" />
      <p className="sr-only">{summary}</p>
      <div className="mt-2 flex flex-wrap items-center gap-x-4 gap-y-1 text-xs text-fg-muted">
        {series.map((s, i) => {
          const value = hover === null ? undefined : s.values[hover];
          return (
            <span key={s.label} className="inline-flex items-center gap-1.5">
              <span
                aria-hidden="true"
                className="h-0.5 w-3 rounded-full"
                style={{ background: `var(--pl-chart-${s.color})` }}
              />
              {s.label}
              {value !== undefined && (
                <span className="font-medium text-fg tabular-nums" data-series={i}>
                  {value === null ? "—" : format(value)}
                </span>
              )}
            </span>
          );
        })}
        {at !== undefined && <span className="ms-auto tabular-nums">{timeLabel(at, 0)}</span>}
      </div>
    </div>
  );
}
