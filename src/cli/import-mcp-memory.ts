// Imports the reference memory server's memory.jsonl into an Anamnesis
// account through the REST import endpoint, and prints the report.
//
//   ANAMNESIS_API_KEY=anm_… npm run import-mcp-memory -- --file memory.jsonl --url http://127.0.0.1:8080
//
// The key comes from the environment only: a command-line argument would be
// visible to every user of the machine in `ps`. It is sent only over https,
// or over plain http to this machine.
//
// Exit codes: 0 every line imported; 1 imported, but some lines were
// rejected (listed by number); 2 usage error or a file that is not UTF-8
// (nothing sent); 3 the import failed and nothing was imported.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { decodeUtf8 } from '../unicode.ts';
import type { ImportReport } from '../vault/transfer.ts';

const USAGE = 'usage: ANAMNESIS_API_KEY=anm_… npm run import-mcp-memory -- --file memory.jsonl [--url http://127.0.0.1:8080]';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

class UsageError extends Error {}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function describeReport(report: ImportReport): string {
  const { imported, skipped, errors } = report;
  const lines = [`Imported ${plural(imported.entities, 'entity', 'entities')} and ${plural(imported.relations, 'relation')}.`];
  if (imported.observations > 0) lines.push(`Added ${plural(imported.observations, 'observation')} to entities that already existed.`);
  if (skipped.entities + skipped.relations > 0) {
    lines.push(`Already there, skipped: ${plural(skipped.entities, 'entity', 'entities')} and ${plural(skipped.relations, 'relation')}.`);
  }
  if (errors.length > 0) {
    lines.push(`${plural(errors.length, 'line')} could not be imported (the others were):`);
    for (const { line, message } of errors) lines.push(`  line ${line}: ${message}`);
  }
  return lines.join('\n');
}

function importUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL('/api/v1/import?format=mcp-memory-jsonl', base);
  } catch {
    throw new UsageError(`--url "${base}" is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new UsageError('refusing to send the API key over plain http to another machine: use an https:// URL');
  }
  return url;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let file: string;
  let url: URL;
  let apiKey: string;
  try {
    const { values } = parseArgs({ args: argv, options: { file: { type: 'string' }, url: { type: 'string', default: 'http://127.0.0.1:8080' } } });
    if (!values.file) throw new UsageError('--file is required');
    file = values.file;
    url = importUrl(values.url);
    apiKey = env.ANAMNESIS_API_KEY ?? '';
    if (!apiKey) throw new UsageError('set ANAMNESIS_API_KEY to your API key (it is never taken from the command line)');
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }

  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    process.stderr.write(`cannot read ${file}\n`);
    return 2;
  }
  let text: string;
  try {
    // Strictly: reading with 'utf8' would send U+FFFD for every bad byte, and the server would keep it.
    text = decodeUtf8(bytes, file);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }

  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/x-ndjson; charset=utf-8' },
      body: text,
    });
  } catch {
    process.stderr.write(`could not reach ${url.origin}; nothing was imported\n`);
    return 3;
  }
  const body = (await response.json().catch(() => null)) as (ImportReport & { error?: { message?: string } }) | null;
  if (!response.ok || !body?.imported) {
    const reason = body?.error?.message ?? `HTTP ${response.status}`;
    process.stderr.write(`the import failed (${response.status}): ${reason}; nothing was imported\n`);
    return 3;
  }
  process.stdout.write(`${describeReport(body)}\n`);
  return body.errors.length > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2), process.env);
