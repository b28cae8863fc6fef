// The dashboards' charts, drawn with Apache ECharts (static/vendor/echarts, served by us: the
// Content-Security-Policy allows scripts from 'self' only, and nothing is fetched at run time).
// Every element with data-chart="<JSON>" becomes a chart; the server writes the JSON (labels and
// names already translated), so there is no inline script. The element stays hidden, and the
// SVG bars and tables beside it stay in place, when ECharts or this script does not run. The
// chart follows its box (ResizeObserver): a phone gets a narrower layout.
(() => {
  "use strict";

  const COLORS = {
    positive: "#15803d", neutral: "#9ca3af", negative: "#b91c1c",
    ours: "#1664d9", theirs: "#d97706", line: "#111827", alert: "#b45309", statement: "#7c3aed",
    rank: ["#db2777", "#0d9488", "#4f46e5"],
  };
  const EMOTIONS = {
    happy: "#f59e0b", angry: "#b91c1c", sad: "#2563eb", fear: "#7c3aed", surprise: "#0891b2", neutral: "#9ca3af",
  };
  const SHADES = {
    ours: ["#1664d9", "#3b82f6", "#60a5fa", "#93c5fd", "#1e40af", "#bfdbfe"],
    theirs: ["#d97706", "#f59e0b", "#fbbf24", "#fcd34d", "#b45309", "#fde68a"],
  };
  const NARROW = 520; // px: below this a chart lays out for a phone
  const reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // Tooltips are HTML: everything from the server (monitor names, post texts) is escaped here.
  const escape = (value) =>
    String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const percent = (value) => (value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`);
  const dot = (color) => `<span class="chart-dot" style="background:${color}"></span>`;

  // Volume per bucket, stacked (sentiments; or us and the competitors), the marks (alerts, our
  // statements) as dashed lines, and an optional share on a second axis (0–100 %).
  function volume(spec, narrow) {
    const marks = new Map();
    for (const mark of spec.marks || []) {
      const found = marks.get(mark.at) || { kinds: [], labels: [], details: [] };
      if (!found.labels.includes(mark.label)) found.labels.push(mark.label);
      found.kinds.push(mark.kind);
      found.details.push(mark.detail);
      marks.set(mark.at, found);
    }
    const markLine = {
      symbol: ["none", "none"],
      silent: true,
      animation: false,
      data: [...marks].map(([at, found]) => ({
        xAxis: at,
        label: { formatter: found.labels.join(" · "), position: "end", color: COLORS[found.kinds[0]], fontSize: 11 },
        lineStyle: { color: COLORS[found.kinds[0]] || COLORS.alert, type: "dashed", width: 1.5 },
      })),
    };
    const series = spec.series.map((s, i) => ({
      type: "bar",
      name: s.name,
      stack: "volume",
      data: s.data,
      itemStyle: { color: COLORS[s.key] },
      barCategoryGap: "15%",
      emphasis: { focus: "series" },
      ...(i === 0 && marks.size ? { markLine } : {}),
    }));
    if (spec.line) {
      series.push({
        type: "line", name: spec.line.name, yAxisIndex: 1, data: spec.line.data, showSymbol: false,
        connectNulls: false, lineStyle: { width: 2 }, itemStyle: { color: COLORS.line }, z: 5,
      });
    }
    // Hot-search ranks (1 at the top) on their own axis: when a title climbed beside the volume.
    const rankAxis = spec.ranks ? (spec.line ? 2 : 1) : null;
    const rankNames = new Set();
    for (const [i, r] of ((spec.ranks && spec.ranks.series) || []).entries()) {
      rankNames.add(r.name);
      series.push({
        type: "line", name: r.name, yAxisIndex: rankAxis, data: r.data, connectNulls: false, symbolSize: 5,
        lineStyle: { width: 2, type: i ? "dotted" : "solid" }, itemStyle: { color: COLORS.rank[i % COLORS.rank.length] }, z: 6,
      });
    }
    const lineName = spec.line ? spec.line.name : null;
    return {
      animation: !reduceMotion,
      legend: { top: 0, type: "scroll", itemWidth: 14, itemHeight: 10, textStyle: { fontSize: narrow ? 11 : 12 } },
      grid: { left: 4, right: spec.line || spec.ranks ? 8 : 28, top: marks.size ? 48 : 36, bottom: 4, containLabel: true },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        confine: true,
        formatter: (items) => {
          const at = items.length ? items[0].axisValue : "";
          const lines = [`<strong>${escape(at)}</strong>`];
          for (const item of items) {
            if (item.value === null || item.value === undefined) continue;
            const value = item.seriesName === lineName ? percent(item.value)
              : rankNames.has(item.seriesName) ? `#${item.value}` : item.value;
            lines.push(`${dot(item.color)}${escape(item.seriesName)}：${escape(value)}`);
          }
          for (const detail of (marks.get(at) || { details: [] }).details) lines.push(escape(detail));
          return lines.join("<br>");
        },
      },
      xAxis: {
        type: "category",
        data: spec.labels,
        axisTick: { alignWithLabel: true },
        axisLabel: { hideOverlap: true, fontSize: narrow ? 10 : 12 },
      },
      yAxis: [
        { type: "value", name: narrow ? "" : spec.axis, minInterval: 1, axisLabel: { fontSize: narrow ? 10 : 12 } },
        ...(spec.line
          ? [{ type: "value", min: 0, max: 1, splitLine: { show: false }, axisLabel: { formatter: percent, fontSize: narrow ? 10 : 12 } }]
          : []),
        ...(spec.ranks
          ? [{ type: "value", name: narrow ? "" : spec.ranks.axis, inverse: true, min: 1, max: 50, position: "right",
               offset: spec.line ? 44 : 0, splitLine: { show: false },
               axisLabel: { formatter: (v) => `#${v}`, fontSize: narrow ? 10 : 12 } }]
          : []),
      ],
      series,
    };
  }

  // The six emotions as a ring (the list under it, with the same colours, is its legend).
  function emotions(spec, narrow) {
    return {
      animation: !reduceMotion,
      tooltip: { trigger: "item", confine: true, formatter: (p) => `${dot(p.color)}${escape(p.name)}：${p.value}（${p.percent}%）` },
      series: [{
        type: "pie",
        radius: narrow ? ["45%", "75%"] : ["40%", "65%"],
        minShowLabelAngle: 8,
        avoidLabelOverlap: true,
        label: { show: !narrow, formatter: (p) => `${p.name} ${Math.round(p.percent)}%` },
        data: spec.items.map((item) => ({ name: item.name, value: item.value, itemStyle: { color: EMOTIONS[item.key] } })),
      }],
    };
  }

  // Share of voice: us and the competitors inside, the monitors around them.
  function ring(spec, narrow) {
    const used = { ours: 0, theirs: 0 };
    const shade = (side) => SHADES[side][used[side]++ % SHADES[side].length];
    const tooltip = (p) => `${dot(p.color)}${escape(p.name)}：${p.value}（${p.percent}%）`;
    return {
      animation: !reduceMotion,
      tooltip: { trigger: "item", confine: true, formatter: tooltip },
      series: [
        {
          type: "pie", radius: [0, "36%"], minShowLabelAngle: 25,
          label: { position: "inner", color: "#fff", fontWeight: "bold", formatter: (p) => `${p.name}\n${Math.round(p.percent)}%` },
          data: spec.inner.map((d) => ({ name: d.name, value: d.value, itemStyle: { color: COLORS[d.side] } })),
        },
        {
          type: "pie", radius: ["46%", narrow ? "66%" : "62%"], minShowLabelAngle: 6,
          label: { show: !narrow, formatter: (p) => `${p.name} ${Math.round(p.percent)}%`, overflow: "truncate", width: 120 },
          data: spec.outer.map((d) => ({ name: d.name, value: d.value, itemStyle: { color: shade(d.side) } })),
        },
      ],
    };
  }

  const BUILD = { volume, emotions, ring };

  function draw(box) {
    let spec;
    try {
      spec = JSON.parse(box.getAttribute("data-chart"));
    } catch (error) {
      return;
    }
    const build = spec && BUILD[spec.kind];
    if (!build || !window.echarts) return;
    box.hidden = false;
    const chart = window.echarts.init(box, null, { renderer: "canvas" });
    let narrow = box.clientWidth < NARROW;
    chart.setOption(build(spec, narrow), true);
    const card = box.closest(".card");
    if (card) card.classList.add("charted"); // hides the SVG bars (the data table stays)
    new ResizeObserver(() => {
      const now = box.clientWidth < NARROW;
      if (now !== narrow) {
        narrow = now;
        chart.setOption(build(spec, narrow), true);
      }
      chart.resize();
    }).observe(box);
  }

  const start = () => document.querySelectorAll("[data-chart]").forEach(draw);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
