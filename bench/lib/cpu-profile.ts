// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went:
// self time per function and per file, the numbers to quote in a report.
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  name: string;
  selfMs: number;
  share: number;
}

/** Where a frame lives: "src/vault/graph.ts", "node_modules/zod", "node:internal", "(program)". */
function fileOf(url: string, root: string): string {
  if (!url) return '(native or idle)';
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const relative = path.relative(root, file);
  const inModules = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(relative);
  if (inModules) return `node_modules/${inModules[1]}`;
  if (file.startsWith('node:')) return 'node: internals';
  return relative.startsWith('..') ? file : relative;
}

export function hotspots(profileFile: string, root: string, top = 25): { totalMs: number; byFunction: Hotspot[]; byFile: Hotspot[] } {
  const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    totalUs += us;
    const file = fileOf(frame.url, root);
    // No line numbers: under tsx they point into the transpiled code, not the source.
    const name = `${frame.functionName || '(anonymous)'} ${file}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const rank = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, selfMs: us / 1000, share: us / totalUs }));
  return { totalMs: totalUs / 1000, byFunction: rank(functions), byFile: rank(files) };
}
