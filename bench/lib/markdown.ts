// Markdown tables and the number formats the reports share.

export type Align = 'left' | 'right';

export interface Column<Row> {
  header: string;
  align?: Align;
  cell: (row: Row) => string;
}

export function markdownTable<Row>(columns: Column<Row>[], rows: readonly Row[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(columns.map((c) => c.header)),
    line(columns.map((c) => (c.align === 'right' ? '---:' : '---'))),
    ...rows.map((row) => line(columns.map((c) => c.cell(row).replace(/\|/g, '\\|')))),
  ].join('\n');
}

/** 0.0123 -> "12.3 µs", 4.56 -> "4.56 ms", 1234 -> "1,234 ms". */
export function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(1)} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  return `${Math.round(ms).toLocaleString('en-US')} ms`;
}

/** A ratio a/b as "3.2x" (or "0.41x"). */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  return ratio >= 10 ? `${ratio.toFixed(0)}x` : ratio >= 1 ? `${ratio.toFixed(1)}x` : `${ratio.toFixed(2)}x`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
