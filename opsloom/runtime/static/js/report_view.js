/**
 * Charts of the report and dashboard pages, drawn with Apache ECharts (/vendor/echarts.esm.js) from the
 * data the server put next to each chart (<script type="application/json" class="chart-boot">).
 *
 * A click on a bar, a point or a slice calls `onPoint(point)`: the report page opens the records behind it
 * (point.href, the list page with the drill-down filter); a dashboard filters its other reports by it.
 * The table of the same numbers stays in the page ("Show data"), so the page works without the script.
 */
import * as echarts from "/vendor/echarts.esm.js";

const PALETTE = ["#2563d0", "#0f9d8a", "#e0882b", "#8b5cf6", "#d9435e", "#5b6475", "#16a34a", "#ca8a04"];
const INK = "#1d2433";
const MUTED = "#5b6475";
const LINE = "#d9dee7";

echarts.registerTheme("opsloom", {
  color: PALETTE,
  backgroundColor: "transparent",
  textStyle: { color: INK, fontFamily: "inherit" },
  categoryAxis: { axisLine: { lineStyle: { color: LINE } }, axisLabel: { color: MUTED }, splitLine: { show: false } },
  valueAxis: { axisLine: { show: false }, axisLabel: { color: MUTED }, splitLine: { lineStyle: { color: LINE } } },
  legend: { textStyle: { color: INK } },
});

const phone = () => window.matchMedia("(max-width: 600px)").matches;

/** The ECharts option for one report's data; `index(dataIndex, seriesIndex)` finds the point clicked. */
export function optionOf(chart) {
  const type = chart.type;
  const points = chart.points;
  const measures = chart.measures;
  const display = chart.display || {};
  // display.value names the measure drawn (else the first); display.x and display.series name dimensions by key
  const first = measures.find((m) => m.key === display.value) || measures[0];
  const twoDims = chart.dimensions.length >= 2;
  const keys = chart.dimension_keys || [];
  const xAt = Math.max(0, keys.indexOf(display.x));
  const seriesAt = keys.includes(display.series) && keys.indexOf(display.series) !== xAt ? keys.indexOf(display.series) : xAt === 0 ? 1 : 0;
  const base = {
    // drawn on the canvas: an HTML tooltip would need inline styles, which the pages' CSP refuses
    tooltip: { trigger: ["pie", "donut", "funnel", "gauge"].includes(type) ? "item" : "axis", confine: true, renderMode: "richText" },
    aria: { enabled: true },
    animation: false, // a dashboard redraws on every filter; numbers should be readable at once
  };
  if (type === "gauge") {
    const value = chart.total ? chart.total[first.key] : points.length ? points[0].values[first.key] : 0;
    const max = Number(chart.display.max || chart.display.target || Math.max(100, Math.ceil((value || 0) * 1.25)));
    return {
      ...base,
      series: [{ type: "gauge", min: 0, max, progress: { show: true, width: 14 }, axisLine: { lineStyle: { width: 14, color: [[1, LINE]] } },
        detail: { valueAnimation: false, fontSize: 22, color: INK, formatter: (v) => Number(v).toLocaleString() },
        title: { color: MUTED }, data: [{ value: value || 0, name: first.label }] }],
      index: () => null,
    };
  }
  if (["pie", "donut", "funnel"].includes(type)) {
    const data = points.map((p, i) => ({ name: p.labels.join(" · ") || "—", value: p.values[first.key] || 0, index: i }));
    const series = type === "funnel"
      ? { type: "funnel", left: "10%", width: "80%", sort: "descending", label: { show: true, position: "inside" }, data }
      : { type: "pie", radius: type === "donut" ? ["45%", "70%"] : [0, "70%"], center: ["50%", phone() ? "45%" : "50%"], data,
          label: { show: !phone(), formatter: "{b}: {d}%" } };
    return { ...base, legend: { type: "scroll", bottom: 0 }, series: [series], index: (d, s, item) => item.data.index };
  }
  const seriesType = type === "line" || type === "area" ? "line" : "bar";
  const stacked = type === "stacked_bar" || type === "area";
  let categories;
  let series;
  let lookup;
  if (twoDims) {
    // rows of (x dimension, series dimension): one series per value of the series dimension
    categories = [...new Set(points.map((p) => p.labels[xAt]))];
    const names = [...new Set(points.map((p) => p.labels[seriesAt]))];
    lookup = names.map((name) => categories.map((c) => points.findIndex((p) => p.labels[xAt] === c && p.labels[seriesAt] === name)));
    series = names.map((name, s) => ({
      name, type: seriesType, stack: stacked ? "total" : undefined, areaStyle: type === "area" ? {} : undefined,
      data: lookup[s].map((i) => (i >= 0 ? points[i].values[first.key] : null)),
    }));
  } else {
    categories = points.map((p) => p.labels.join(" · ") || "—");
    const shown = measures.some((m) => m.key === display.value) ? [first]
      : type === "stacked_bar" || type === "area" ? measures : measures.slice(0, Math.max(1, Math.min(measures.length, 3)));
    lookup = shown.map(() => points.map((_, i) => i));
    series = shown.map((m) => ({
      name: m.label, type: seriesType, stack: stacked ? "total" : undefined, areaStyle: type === "area" ? {} : undefined,
      smooth: seriesType === "line" ? 0.2 : undefined, data: points.map((p) => p.values[m.key]),
    }));
  }
  if (seriesType === "bar") for (const one of series) one.barMaxWidth = 56; // a lone category is not a wall
  const horizontal = seriesType === "bar" && display.horizontal;
  const category = { type: "category", data: categories, axisLabel: { hideOverlap: true, rotate: phone() && categories.length > 4 ? 30 : 0 } };
  // two measures of one dimension (a count and an amount) each get their own scale, left and right
  const twoScales = !twoDims && !stacked && !horizontal && series.length === 2;
  if (twoScales) series[1].yAxisIndex = 1;
  const value = twoScales
    ? [{ type: "value", name: series[0].name }, { type: "value", name: series[1].name, splitLine: { show: false } }]
    : { type: "value" };
  return {
    ...base,
    legend: series.length > 1 ? { type: "scroll", top: 0 } : undefined,
    grid: { left: 8, right: 16, top: series.length > 1 ? 36 : 16, bottom: 8, containLabel: true },
    xAxis: horizontal ? value : category,
    yAxis: horizontal ? category : value,
    series,
    index: (d, s) => lookup[s][d],
  };
}

/** Draw one chart into `holder`; a click on a point calls `onPoint(point)`. Returns the ECharts instance. */
export function drawInto(holder, data, onPoint) {
  const { index, ...option } = optionOf(data);
  const instance = echarts.init(holder, "opsloom", { renderer: "canvas" });
  instance.setOption(option);
  instance.on("click", (event) => {
    const i = index(event.dataIndex, event.seriesIndex, event);
    if (i !== null && i !== undefined && i >= 0 && data.points[i]) onPoint(data.points[i], event);
  });
  holder.dataset.drawn = "true";
  return instance;
}

/** Draw the chart of every report body under `root`; returns the ECharts instances (for PNG and resize). */
export function drawCharts(root, onPoint) {
  const charts = [];
  for (const holder of root.querySelectorAll("[data-chart]")) {
    const boot = holder.parentElement.querySelector("script.chart-boot");
    if (boot) charts.push(drawInto(holder, JSON.parse(boot.textContent), onPoint));
  }
  return charts;
}

/** A run's answer (docs/reports.md) as the chart data the server gives the pages (the designer's preview). */
export function chartFromAnswer(answer, display) {
  const dims = answer.columns.filter((c) => c.kind === "dimension");
  const measures = answer.columns.filter((c) => c.kind === "measure");
  const number = (v) => (v === null || v === undefined ? null : Number(v));
  const values = (row) => Object.fromEntries(measures.map((m) => [m.key, number(row.values[m.key])]));
  return {
    type: display.type,
    display,
    dimensions: dims.map((d) => d.label),
    dimension_keys: dims.map((d) => d.key),
    measures: measures.map((m) => ({ key: m.key, label: m.label })),
    points: answer.rows.map((r) => ({
      labels: dims.map((d) => String(r.labels[d.key] ?? r.values[d.key] ?? "")),
      values: values(r),
      href: null,
      cross: null,
    })),
    total: answer.total ? values(answer.total) : null,
  };
}

export function resizeAll(charts) {
  for (const chart of charts) if (!chart.isDisposed()) chart.resize();
}

const page = document.querySelector(".report-page [data-report-body]");
if (page) {
  const charts = drawCharts(page, (point) => {
    if (point.href) window.location.assign(point.href);
  });
  window.addEventListener("resize", () => resizeAll(charts));
}
