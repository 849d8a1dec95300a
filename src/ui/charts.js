// Time series with uPlot (loaded by index.html as the global `uPlot`). A chart keeps its
// series as long as their names stay the same (setData only); new names rebuild it.

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

/**
 * uPlot's data from a panel's answer: the first column is the time (epoch seconds); each
 * other column is a series, or with `seriesBy` the rows are (time, name, value) and each
 * name a series. Those panels are sums and counts per group: a group missing at a time had
 * nothing then, and is drawn as 0.
 */
export function seriesData(panel) {
  const { columns, rows } = panel;
  if (columns.length < 2) return { names: [], data: [[]] };
  if (panel.seriesBy) {
    const byCol = columns.findIndex((c) => c.name === panel.seriesBy);
    const valueCol = columns.findIndex((_c, i) => i !== 0 && i !== byCol);
    const times = [...new Set(rows.map((r) => Number(r[0])))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const names = [...new Set(rows.map((r) => String(r[byCol])))].sort();
    const series = names.map(() => times.map(() => 0));
    for (const r of rows)
      series[names.indexOf(String(r[byCol]))][index.get(Number(r[0]))] = Number(r[valueCol]);
    return { names, data: [times, ...series] };
  }
  const names = columns.slice(1).map((c) => c.name);
  const data = [
    rows.map((r) => Number(r[0])),
    ...names.map((_, i) => rows.map((r) => (r[i + 1] === null ? null : Number(r[i + 1])))),
  ];
  return { names, data };
}

const COMPACT = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });

/** A lone point gets a minute either side (uPlot's own choice spans years). */
function timeRange(u, min, max) {
  return u.data[0].length <= 1 ? [min - 60, min + 60] : [min, max];
}

export class TimeChart {
  constructor(container, { format }) {
    this.container = container;
    this.format = format;
    this.plot = undefined;
    this.names = '';
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize(this.size());
    });
    this.resize.observe(container);
  }

  size() {
    return { width: Math.max(200, this.container.clientWidth), height: 220 };
  }

  update(panel) {
    const { names, data } = seriesData(panel);
    this.container.dataset.series = String(names.length);
    this.container.dataset.points = String(data[0].length);
    const key = names.join('\u0000');
    if (this.plot && key === this.names) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.names = key;
    const format = this.format;
    this.plot = new uPlot(
      {
        ...this.size(),
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true, range: timeRange } },
        axes: [{}, { size: 56, values: (_u, ticks) => ticks.map((v) => COMPACT.format(v)) }],
        series: [
          {},
          ...names.map((name, i) => ({
            label: name,
            stroke: COLORS[i % COLORS.length],
            width: 1.5,
            points: { show: data[0].length < 3 },
            value: (_u, v) => (v === null || v === undefined ? '—' : format(v)),
          })),
        ],
      },
      data,
      this.container,
    );
    // Tests and the curious read the chart's series from here.
    this.container.uplot = this.plot;
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }
}
