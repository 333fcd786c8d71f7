// Chart.js (vendored, global `Chart`) with the few shapes the dashboard needs. Time axes are linear
// scales in epoch milliseconds with our own labels, so no date adapter is needed.

const live = new Set();

export const COLORS = {
  ratings: ["#c0392b", "#e67e22", "#f1c40f", "#7dbb42", "#27ae60"],
  happy: "#1f6feb",
  traffic: "rgba(120, 130, 150, 0.45)",
  goal: "#8e44ad",
  gap: "rgba(231, 76, 60, 0.16)",
  greeted: "#27ae60",
  ungreeted: "#e67e22",
};

export function destroyCharts() {
  for (const chart of live) chart.destroy();
  live.clear();
}

export function make(canvas, config) {
  if (typeof Chart === "undefined") {
    canvas.replaceWith(document.createTextNode("Charts unavailable (chart library did not load)."));
    return null;
  }
  config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
  const chart = new Chart(canvas, config);
  live.add(chart);
  return chart;
}

function timeLabel(ms, spanMs) {
  const date = new Date(ms);
  if (spanMs <= 2 * 86400e3) return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

// Ticks on whole local hours (every 3 h for a day or less) or local midnights, not wherever the range starts.
export function niceTimeTicks(startMs, endMs) {
  const span = endMs - startMs;
  const ticks = [];
  const t = new Date(startMs);
  if (span <= 2 * 86400e3) {
    const step = span <= 86400e3 ? 3 : 6;
    t.setMinutes(0, 0, 0);
    while (t.getHours() % step) t.setHours(t.getHours() + 1);
    for (; t.getTime() <= endMs; t.setHours(t.getHours() + step)) if (t.getTime() >= startMs) ticks.push(t.getTime());
  } else {
    const step = span <= 10 * 86400e3 ? 1 : span <= 40 * 86400e3 ? 7 : 30;
    t.setHours(24, 0, 0, 0);
    for (; t.getTime() <= endMs; t.setDate(t.getDate() + step)) ticks.push(t.getTime());
  }
  return ticks;
}

export function timeAxis(startMs, endMs, title) {
  return {
    type: "linear",
    min: startMs,
    max: endMs,
    title: { display: Boolean(title), text: title },
    afterBuildTicks: (axis) => { axis.ticks = niceTimeTicks(startMs, endMs).map((value) => ({ value })); },
    ticks: { autoSkip: false, callback: (value) => timeLabel(value, endMs - startMs) },
  };
}

// Shaded vertical bands (e.g. cleaning gaps) behind the datasets: {from, to} in ms.
export function bandsPlugin(bands, color = COLORS.gap) {
  return {
    id: "forecourtBands",
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      ctx.fillStyle = color;
      for (const band of bands) {
        const left = Math.max(scales.x.getPixelForValue(band.from), chartArea.left);
        const right = Math.min(scales.x.getPixelForValue(band.to), chartArea.right);
        if (right > left) ctx.fillRect(left, chartArea.top, right - left, chartArea.bottom - chartArea.top);
      }
      ctx.restore();
    },
  };
}

// A vertical goal line at x = goal (on a category or linear x axis, by value).
export function goalLinePlugin(goalIndex, label) {
  return {
    id: "forecourtGoal",
    afterDatasetsDraw(chart) {
      if (goalIndex === null || goalIndex === undefined) return;
      const { ctx, chartArea, scales } = chart;
      const x = scales.x.getPixelForValue(goalIndex);
      if (x < chartArea.left || x > chartArea.right) return;
      ctx.save();
      ctx.strokeStyle = COLORS.goal;
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.fillStyle = COLORS.goal;
      ctx.fillText(label, Math.min(x + 4, chartArea.right - 60), chartArea.top + 12);
      ctx.restore();
    },
  };
}

// Text beside some points of one dataset, e.g. the sample size of a figure that rests on few values:
// labelOf(point) returns the text, or null for none.
export function sampleSizePlugin(datasetIndex, labelOf) {
  return {
    id: "forecourtSampleSize",
    afterDatasetsDraw(chart) {
      const meta = chart.getDatasetMeta(datasetIndex);
      const points = chart.data.datasets[datasetIndex]?.data || [];
      if (!meta || meta.hidden) return;
      const { ctx, chartArea } = chart;
      ctx.save();
      ctx.fillStyle = COLORS.happy;
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "center";
      meta.data.forEach((element, i) => {
        const text = points[i] ? labelOf(points[i]) : null;
        if (text && element.x >= chartArea.left && element.x <= chartArea.right) {
          ctx.fillText(text, element.x, Math.max(chartArea.top + 10, element.y - 7));
        }
      });
      ctx.restore();
    },
  };
}

// Histogram of values into fixed-width bins; returns {labels, counts, binOf(value)}.
export function histogram(values, binWidth, maxValue) {
  const top = Math.max(binWidth, Math.ceil((maxValue ?? Math.max(0, ...values)) / binWidth) * binWidth);
  const bins = Math.max(1, Math.round(top / binWidth));
  const counts = new Array(bins).fill(0);
  for (const value of values) {
    if (value === null || value === undefined || Number.isNaN(value)) continue;
    counts[Math.min(bins - 1, Math.floor(value / binWidth))] += 1;
  }
  const labels = counts.map((_, i) => `${i * binWidth}–${(i + 1) * binWidth}`);
  return { labels, counts, binOf: (value) => Math.min(bins - 1, value / binWidth - 0.5) };
}
