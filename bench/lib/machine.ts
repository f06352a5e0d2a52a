// The machine a report was measured on: CPU model (from /proc/cpuinfo where
// it exists), cores, memory, Node and OpenSSL versions, load average.
import { readFileSync } from 'node:fs';
import os from 'node:os';

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1]!.trim();
  } catch {
    // Not Linux: fall back to what Node reports.
  }
  return os.cpus()[0]?.model.trim() ?? 'unknown CPU';
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  openssl: string;
  platform: string;
}

export function describeMachine(): Machine {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    openssl: process.versions.openssl ?? 'unknown',
    platform: `${os.platform()} ${os.arch()}`,
  };
}

export function machineLine(machine: Machine = describeMachine()): string {
  return `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}, OpenSSL ${machine.openssl}`;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAverage(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(', ');
}
