// A small React wrapper around Chart.js (canvas): line charts of per-step series and scatter
// plots. The chart is made once per canvas and updated in place (no animation), so a live run
// redraws cheaply. Each series is a list of {x, y} points; y null leaves a gap.

import { useEffect, useRef } from 'react';
import {
  Chart as ChartJs,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartDataset,
} from 'chart.js';

ChartJs.register(LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip);

export interface Series {
  label: string;
  points: { x: number; y: number | null }[];
  color?: string;
  /** Point radius per point (scatter), or one for all. */
  radius?: number | number[];
  dashed?: boolean;
}

/** Longest legend label, in characters, before it is cut. */
const LEGEND_CHARS = 34;

/** A qualitative palette that stays readable for common color-vision deficiencies (Okabe-Ito). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

export function Chart({
  type,
  series,
  xLabel,
  yLabel,
  title,
  height = 180,
  testId,
  yRange,
  yReverse = false,
}: {
  type: 'line' | 'scatter';
  series: Series[];
  xLabel: string;
  yLabel: string;
  /** Also the canvas's accessible name. */
  title: string;
  height?: number;
  testId?: string;
  /** A fixed y range (fractions: [0, 1]), so a chart of few points does not zoom into noise. */
  yRange?: [number, number];
  /** Larger values lower on the axis (ranks: 1 on top). */
  yReverse?: boolean;
}) {
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const yMin = yRange?.[0];
  const yMax = yRange?.[1];
  const chart = useRef<ChartJs | null>(null);

  const datasets = series.map((s, i): ChartDataset<'line' | 'scatter', { x: number; y: number | null }[]> => ({
    label: s.label,
    data: s.points,
    borderColor: s.color ?? PALETTE[i % PALETTE.length],
    backgroundColor: s.color ?? PALETTE[i % PALETTE.length],
    pointRadius: s.radius ?? (type === 'line' ? (s.points.length > 40 ? 0 : 2) : 4),
    borderWidth: 2,
    borderDash: s.dashed ? [5, 4] : [],
    spanGaps: false,
    showLine: type === 'line',
  }));

  useEffect(() => {
    if (!canvas.current) return;
    const c = new ChartJs(canvas.current, {
      type,
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        // Legend markers drawn as their series are: a line (dashed where the series is) for line
        // charts, the point's own shape for scatter plots. Long names are cut (the tooltip has them
        // whole), so a label never pushes its marker out of the chart.
        plugins: {
          legend: {
            display: true,
            position: 'bottom',
            labels: {
              ...(type === 'line'
                ? { usePointStyle: true, pointStyle: 'line' as const, pointStyleWidth: 24, boxWidth: 24, boxHeight: 8 }
                : { usePointStyle: true, boxHeight: 8 }),
              generateLabels: (c: ChartJs) =>
                ChartJs.defaults.plugins.legend.labels
                  .generateLabels(c)
                  .map((l) => ({ ...l, text: l.text.length > LEGEND_CHARS ? `${l.text.slice(0, LEGEND_CHARS - 1)}…` : l.text })),
            },
          },
        },
        scales: {
          // Steps are whole numbers: no 1.5 ticks.
          x: { type: 'linear', title: { display: true, text: xLabel }, ticks: xLabel === 'step' ? { precision: 0 } : {} },
          y: {
            type: 'linear',
            title: { display: true, text: yLabel },
            reverse: yReverse,
            ...(yMin !== undefined && yMax !== undefined ? { min: yMin, max: yMax } : {}),
          },
        },
      },
    });
    chart.current = c;
    return () => {
      c.destroy();
      chart.current = null;
    };
  }, [type, xLabel, yLabel, yMin, yMax, yReverse]);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.datasets = datasets as ChartDataset<'line'>[];
    c.update('none');
  });

  const points = series.reduce((a, s) => a + s.points.filter((p) => p.y !== null).length, 0);
  // The legend takes rows from the plot (in a narrow chart, one a series): grow with it so the axis titles keep their room.
  const legendRows = Math.min(series.length, 10);
  return (
    <figure className="chart" data-testid={testId} data-points={points} data-y-range={yRange?.join(',')}>
      <figcaption>{title}</figcaption>
      <div style={{ height: height + Math.max(0, legendRows - 1) * 20 }}>
        <canvas ref={canvas} role="img" aria-label={`${title}: ${yLabel} against ${xLabel}`} />
      </div>
    </figure>
  );
}
