// Load generation with autocannon: a fixed number of connections for a
// bounded time against one URL, with typed results (the package ships no
// types) and an optional check of every response body.
import { createRequire } from 'node:module';

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers: Record<string, string>;
  /** Called for every request, so each can differ (a new memory, the next query). */
  nextRequest: () => LoadRequest;
  /** False marks a 2xx answer as wrong anyway (counted in `mismatches`). */
  verifyBody?: (body: string) => boolean;
}

export interface LoadResult {
  requestsPerSecond: number;
  /** Milliseconds. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** 2xx answers whose body failed `verifyBody`. */
  mismatches: number;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  /** Connection errors, timeouts included. */
  errors: number;
  non2xx: number;
  mismatches: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const TIMEOUT_SECONDS = 30;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    // Generous, so a slow answer shows in the latencies instead of being cut off as an error.
    timeout: TIMEOUT_SECONDS,
    headers: options.headers,
    requests: [{ setupRequest: (request: object) => ({ ...request, ...options.nextRequest() }) }],
    ...(options.verifyBody ? { verifyBody: options.verifyBody } : {}),
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors, // timeouts included
    mismatches: result.mismatches ?? 0,
  };
}

/** Everything that went wrong in a run; a benchmark of failing requests measures nothing. */
export function failures(result: LoadResult): number {
  return result.non2xx + result.errors + result.mismatches;
}
