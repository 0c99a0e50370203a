// Small SVG bar charts for the dashboard: one series of values over labelled buckets.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

// A figure with `title` and one bar per point ({label, value}); `format` writes the values.
function barChart(title, points, format = String) {
  const width = 260, height = 120, left = 48, bottom = 18, top = 8;
  const figure = document.createElement("figure");
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  figure.append(caption);
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.setAttribute("aria-label", title);
  const max = Math.max(0, ...points.map((p) => p.value)) || 1;
  const plotHeight = height - bottom - top;
  const step = (width - left) / Math.max(points.length, 1);
  svg.append(svgElement("line", { x1: left, y1: top + plotHeight, x2: width, y2: top + plotHeight,
    stroke: "#c8ccd2" }));
  for (const [value, y] of [[max, top + 8], [0, top + plotHeight]]) {
    const label = svgElement("text", { x: left - 4, y, "text-anchor": "end" });
    label.textContent = format(value);
    svg.append(label);
  }
  points.forEach((point, i) => {
    const barHeight = (point.value / max) * plotHeight;
    const bar = svgElement("rect", {
      x: left + i * step + 1, y: top + plotHeight - barHeight,
      width: Math.max(step - 2, 1), height: barHeight, fill: "#2f6fde",
    });
    const tip = svgElement("title", {});
    tip.textContent = `${point.label}: ${format(point.value)}`;
    bar.append(tip);
    svg.append(bar);
  });
  if (points.length) {
    for (const [point, x, anchor] of [[points[0], left, "start"], [points.at(-1), width, "end"]]) {
      const label = svgElement("text", { x, y: height - 4, "text-anchor": anchor });
      label.textContent = point.label;
      svg.append(label);
    }
  }
  figure.append(svg);
  return figure;
}
