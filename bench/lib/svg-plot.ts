// A small hand-made SVG line chart: one panel per group of series, log-log
// axes (record count across, milliseconds up), so no plotting dependency.

export interface Series {
  label: string;
  /** Dashed when true: the reference server. */
  dashed: boolean;
  color: string;
  points: Array<{ x: number; y: number }>;
}

export interface Panel {
  title: string;
  series: Series[];
}

const PANEL_WIDTH = 330;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 58, right: 14, top: 34, bottom: 44 };
const LEGEND_LINE = 16;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function decades(min: number, max: number): number[] {
  const out: number[] = [];
  const [low, high] = [Math.floor(Math.log10(min)), Math.ceil(Math.log10(max))];
  for (let e = low; e <= Math.max(high, low + 1); e++) out.push(10 ** e);
  return out;
}

function tickLabel(value: number, unit: string): string {
  if (unit === 'ms') return value >= 1 ? `${value.toLocaleString('en-US')} ms` : `${value * 1000} µs`;
  return value >= 1000 ? `${value / 1000}k` : String(value);
}

function panelSvg(panel: Panel, offsetX: number): string {
  const xs = panel.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = panel.series.flatMap((s) => s.points.map((p) => p.y));
  const yTicks = decades(Math.min(...ys), Math.max(...ys));
  const [yMin, yMax] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const [xMin, xMax] = [Math.min(...xs) / 1.6, Math.max(...xs) * 1.6];
  const plotW = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => offsetX + MARGIN.left + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * plotW;
  const py = (y: number) => MARGIN.top + plotH - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${offsetX + MARGIN.left + plotW / 2}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
  for (const y of yTicks) {
    parts.push(`<line x1="${offsetX + MARGIN.left}" x2="${offsetX + MARGIN.left + plotW}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${offsetX + MARGIN.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end" font-size="11">${tickLabel(y, 'ms')}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${px(x).toFixed(1)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" font-size="11">${tickLabel(x, 'records')}</text>`);
  }
  parts.push(`<rect x="${offsetX + MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${offsetX + MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH + 34}" text-anchor="middle" font-size="11">records (log)</text>`);
  for (const s of panel.series) {
    const points = [...s.points].sort((a, b) => a.x - b.x);
    const path = points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const p of points) parts.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${s.color}"><title>${escapeXml(`${s.label}: ${p.y.toFixed(2)} ms at ${p.x}`)}</title></circle>`);
  }
  panel.series.forEach((s, i) => {
    const y = PANEL_HEIGHT + 6 + i * LEGEND_LINE;
    const x = offsetX + MARGIN.left;
    parts.push(`<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${x + 30}" y="${y + 4}" font-size="11">${escapeXml(s.label)}</text>`);
  });
  return parts.join('\n');
}

/** Panels side by side, legends under each, a title and a caption line. */
export function lineChartSvg(title: string, caption: string, panels: Panel[]): string {
  const legendRows = Math.max(...panels.map((p) => p.series.length));
  const width = PANEL_WIDTH * panels.length;
  const height = PANEL_HEIGHT + legendRows * LEGEND_LINE + 44;
  const body = panels.map((panel, i) => panelSvg(panel, i * PANEL_WIDTH)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 30}" viewBox="0 -30 ${width} ${height + 30}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="-30" width="${width}" height="${height + 30}" fill="#fff"/>`,
    `<text x="${width / 2}" y="-10" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    body,
    `<text x="${width / 2}" y="${height - 6}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
