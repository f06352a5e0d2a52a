// Summaries of latency samples: the one percentile definition every
// benchmark here uses (nearest rank), so medians and p99s compare.

/** Nearest-rank percentile of samples sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('no samples');
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface Summary {
  samples: number;
  /** Milliseconds. */
  medianMs: number;
  p99Ms: number;
  meanMs: number;
}

export function summarize(samplesMs: readonly number[]): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    medianMs: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.reduce((sum, x) => sum + x, 0) / sorted.length,
  };
}

/** Milliseconds since `started` (from performance.now()). */
export function elapsedMs(started: number): number {
  return performance.now() - started;
}
