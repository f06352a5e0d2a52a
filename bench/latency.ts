// Latency of the same MCP calls on our server (on SQLite and on PostgreSQL),
// on the server as it was before issue 12 (an earlier revision, on each
// driver too) and on the reference server:
// write one, search, read all. Calls alternate one by one between the two
// servers and between the record counts, in a fresh random order every
// iteration, so machine noise (other processes, GC, disk writeback, a load
// burst) hits every operation alike and the 1k-vs-10k comparison is not a
// comparison of two different minutes. Every sample is one tool call as the
// SDK client sees it, or, for "read all", the whole paging loop.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type Entity, newEntity, newMemory, SEARCH_QUERIES, seededRandom } from './lib/data.ts';
import { callTool } from './lib/mcp.ts';
import { summarize, type Summary } from './lib/stats.ts';
import { SEARCH_NODES_DEFAULT_LIMIT } from '../src/mcp/graph-tools.ts';
import { LIST_MEMORIES_MAX_LIMIT } from '../src/mcp/memory-tools.ts';

export type Group = 'write' | 'search' | 'read';
/** Ours as it is, ours as it was at the baseline revision (lib/baseline.ts), the reference. */
export type Side = 'ours' | 'before' | 'reference';
/** The sides that are our server, one process per driver. */
export type OurSide = Exclude<Side, 'reference'>;
export type Driver = 'sqlite' | 'postgres';
export const DRIVER_NAMES: Record<Driver, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export interface Operation {
  /** Records the user held; with `id`, names the operation. */
  size: number;
  /** Stable key within a size, e.g. "sqlite remember", "postgres read_graph page", "reference read_graph". */
  id: string;
  side: Side;
  /** Ours and before only: the store our server ran on. */
  driver?: Driver;
  group: Group;
  tool: string;
  /** What one sample is, for the report. */
  note: string;
}

export interface OperationResult extends Operation, Summary {}

interface Timed extends Operation {
  run: (i: number) => Promise<void>;
}

export interface Plan {
  warmup: number;
  /** Iterations per group (each operation of every size called once per iteration). */
  write: number;
  search: number;
  read: number;
  /** Each group keeps going (up to 20 times its iterations) until it has measured this long. */
  minSeconds: number;
}

/** One user's records on our server (one per driver), before and now, and the reference, or some of them (each runs at the sizes it can hold). */
export interface SizeClients {
  size: number;
  ours: Partial<Record<Driver, Client>>;
  before: Partial<Record<Driver, Client>>;
  reference?: Client;
  /** Whether to time reading every page (slow at large sizes): the first page is always timed. */
  readAll: boolean;
  /** Entities + relations and memories held before the run, to check that read-all reads them all. */
  graphRecords: number;
  memories: number;
  /** Entity names open_nodes asks for (a few, spread over the graph). */
  openNames: string[];
}

/** Pages through read_graph (1,000 a page, the maximum) and returns how many entities and relations came. */
async function readWholeGraph(client: Client): Promise<number> {
  let cursor: string | undefined;
  let total = 0;
  do {
    const page = await callTool(client, { name: 'read_graph', arguments: { limit: 1000, ...(cursor ? { cursor } : {}) } });
    total += (page.entities as unknown[]).length + (page.relations as unknown[]).length;
    cursor = (page.next_cursor as string | undefined) ?? undefined;
  } while (cursor);
  return total;
}

async function listAllMemories(client: Client): Promise<number> {
  let cursor: string | null = null;
  let total = 0;
  do {
    const page = await callTool(client, { name: 'list_memories', arguments: { limit: LIST_MEMORIES_MAX_LIMIT, ...(cursor ? { cursor } : {}) } });
    total += (page.items as unknown[]).length;
    cursor = page.next_cursor as string | null;
  } while (cursor);
  return total;
}

/** Creates one entity and checks it was new (an existing name would be skipped, and cheaper). */
async function createOne(client: Client, entity: Entity): Promise<void> {
  const answer = await callTool(client, { name: 'create_entities', arguments: { entities: [entity] } });
  if ((answer.entities as unknown[]).length !== 1) throw new Error('create_entities did not create the new entity');
}

function expectAll(what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${what} read ${got} records, expected ${want}`);
}

/** Fisher-Yates with the seeded generator: the same orders every run. */
function shuffled(count: number, random: () => number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Calls every operation once per iteration, in a new random order each time:
 * an operation that always followed the reference's whole-file write would
 * pay for its after-effects more than the others.
 */
async function alternate(operations: Timed[], iterations: number, warmup: number, minSeconds: number): Promise<OperationResult[]> {
  const samples = operations.map(() => [] as number[]);
  const random = seededRandom(operations.length);
  let measuringSince = performance.now();
  // Quick groups run on past `iterations` for `minSeconds`, so a burst of load from
  // elsewhere on the machine cannot cover all of their samples.
  const more = (i: number) => i < warmup + iterations || (performance.now() - measuringSince < minSeconds * 1000 && i < warmup + iterations * 20);
  for (let i = 0; more(i); i++) {
    if (i === warmup) measuringSince = performance.now();
    for (const index of shuffled(operations.length, random)) {
      const started = performance.now();
      await operations[index]!.run(i);
      if (i >= warmup) samples[index]!.push(performance.now() - started);
    }
  }
  return operations.map(({ run: _run, ...operation }, index) => ({ ...operation, ...summarize(samples[index]!) }));
}

/** The operations of one side, or none when that side does not run at this size. */
function onSide(client: Client | undefined, make: (client: Client) => Timed[]): Timed[] {
  return client ? make(client) : [];
}

/** The id of one of our operations: "postgres recall" now, "before postgres recall" at the baseline. */
export function ourId(side: OurSide, driver: Driver, name: string): string {
  return `${side === 'before' ? 'before ' : ''}${driver} ${name}`;
}

/**
 * Our operations on every driver measured at this size, now and before (the
 * same calls with the same arguments): ids and sides filled in.
 */
function onOurs(clients: SizeClients, make: (client: Client) => Array<Omit<Timed, 'id' | 'side' | 'driver'> & { name: string }>): Timed[] {
  return (['ours', 'before'] as const).flatMap((side) =>
    (Object.entries(clients[side]) as Array<[Driver, Client]>).flatMap(([driver, client]) =>
      make(client).map(({ name, ...op }) => ({ ...op, id: ourId(side, driver, name), side, driver })),
    ),
  );
}

/** A needle in no record: what the search itself costs, without an answer to decrypt and send. */
const NO_MATCH = 'Reykjavik';

async function searchNone(client: Client): Promise<void> {
  const answer = await callTool(client, { name: 'search_nodes', arguments: { query: NO_MATCH } });
  if ((answer.entities as unknown[]).length !== 0) throw new Error(`search_nodes found ${NO_MATCH}`);
}

/** Reads every page of a search, following next_cursor with the default page as a client would; returns how many entities came. */
async function searchAllPages(client: Client, query: string): Promise<number> {
  let cursor: string | undefined;
  let total = 0;
  do {
    const page = await callTool(client, { name: 'search_nodes', arguments: { query, ...(cursor ? { cursor } : {}) } });
    total += (page.entities as unknown[]).length;
    cursor = page.next_cursor as string | undefined;
  } while (cursor);
  return total;
}

/** Opens the named entities and checks that every one came back. */
async function openNodes(client: Client, names: string[]): Promise<void> {
  const answer = await callTool(client, { name: 'open_nodes', arguments: { names } });
  if ((answer.entities as unknown[]).length !== names.length) throw new Error(`open_nodes answered ${(answer.entities as unknown[]).length} entities, expected ${names.length}`);
}

function searchOperations(clients: SizeClients): Timed[] {
  const { size, reference, openNames, readAll } = clients;
  const query = (i: number) => SEARCH_QUERIES[i % SEARCH_QUERIES.length]!;
  const call = (client: Client, name: string) => async (i: number) => void (await callTool(client, { name, arguments: { query: query(i) } }));
  const open = `${openNames.length} names`;
  return [
    ...onOurs(clients, (c) => [
      { size, name: 'recall', group: 'search', tool: 'recall', note: 'top 10 by BM25', run: call(c, 'recall') },
      // As a client calls it: the default page (SEARCH_NODES_DEFAULT_LIMIT matching entities and their relations).
      { size, name: 'search_nodes', group: 'search', tool: 'search_nodes', note: `substring match, first page of ${SEARCH_NODES_DEFAULT_LIMIT}`, run: call(c, 'search_nodes') },
      ...(readAll
        ? [{ size, name: 'search_nodes all', group: 'search' as const, tool: 'search_nodes', note: 'substring match, every page', run: async (i: number) => void (await searchAllPages(c, query(i))) }]
        : []),
      { size, name: 'search_nodes none', group: 'search', tool: 'search_nodes', note: `no match ("${NO_MATCH}")`, run: () => searchNone(c) },
      { size, name: 'open_nodes', group: 'search', tool: 'open_nodes', note: open, run: () => openNodes(c, openNames) },
    ]),
    ...onSide(reference, (c) => [
      { size, id: 'reference search_nodes', side: 'reference', group: 'search', tool: 'search_nodes', note: 'substring match', run: call(c, 'search_nodes') },
      { size, id: 'reference search_nodes none', side: 'reference', group: 'search', tool: 'search_nodes', note: `no match ("${NO_MATCH}")`, run: () => searchNone(c) },
      { size, id: 'reference open_nodes', side: 'reference', group: 'search', tool: 'open_nodes', note: open, run: () => openNodes(c, openNames) },
    ]),
  ];
}

async function firstPage(client: Client, name: string, limit: number): Promise<void> {
  const page = await callTool(client, { name, arguments: { limit } });
  const items = name === 'read_graph' ? (page.entities as unknown[]).length + (page.relations as unknown[]).length : (page.items as unknown[]).length;
  if (items !== limit) throw new Error(`${name} answered a first page of ${items} items, expected ${limit}`);
}

function readOperations(clients: SizeClients): Timed[] {
  const { size, reference, graphRecords, memories, readAll } = clients;
  const pageSize = Math.min(100, memories);
  return [
    ...onOurs(clients, (c) => [
      { size, name: 'read_graph page', group: 'read' as const, tool: 'read_graph', note: `first page of ${pageSize}`, run: () => firstPage(c, 'read_graph', pageSize) },
      { size, name: 'list_memories page', group: 'read' as const, tool: 'list_memories', note: `first page of ${pageSize}`, run: () => firstPage(c, 'list_memories', pageSize) },
      ...(readAll
        ? [
            { size, name: 'read_graph', group: 'read' as const, tool: 'read_graph', note: 'all pages of 1,000', run: async () => expectAll('our read_graph', await readWholeGraph(c), graphRecords) },
            { size, name: 'list_memories', group: 'read' as const, tool: 'list_memories', note: `all pages of ${LIST_MEMORIES_MAX_LIMIT.toLocaleString('en-US')}, its maximum`, run: async () => expectAll('list_memories', await listAllMemories(c), memories) },
          ]
        : []),
    ]),
    ...onSide(reference, (c) => [
      {
        size, id: 'reference read_graph', side: 'reference', group: 'read', tool: 'read_graph', note: 'one answer',
        run: async () => {
          const graph = await callTool(c, { name: 'read_graph', arguments: {} });
          expectAll('the reference read_graph', (graph.entities as unknown[]).length + (graph.relations as unknown[]).length, graphRecords);
        },
      },
    ]),
  ];
}

function writeOperations(clients: SizeClients): Timed[] {
  const { size, reference } = clients;
  const random = seededRandom(size);
  // Both servers create the same entity in iteration i, whichever comes first.
  const created = new Map<number, Entity>();
  const entity = (i: number) => {
    if (!created.has(i)) created.set(i, newEntity(i, random));
    return created.get(i)!;
  };
  return [
    ...onOurs(clients, (c) => [
      { size, name: 'remember', group: 'write', tool: 'remember', note: 'one memory', run: async () => void (await callTool(c, { name: 'remember', arguments: { ...newMemory(random) } })) },
      { size, name: 'create_entities', group: 'write', tool: 'create_entities', note: 'one new entity', run: (i) => createOne(c, entity(i)) },
    ]),
    ...onSide(reference, (c) => [{ size, id: 'reference create_entities', side: 'reference', group: 'write', tool: 'create_entities', note: 'one new entity', run: (i) => createOne(c, entity(i)) }]),
  ];
}

export async function runLatency(sizes: SizeClients[], plan: Plan): Promise<OperationResult[]> {
  const all = (make: (clients: SizeClients) => Timed[]) => sizes.flatMap(make);
  // Search and read first, so they see exactly the seeded records.
  return [
    ...(await alternate(all(searchOperations), plan.search, plan.warmup, plan.minSeconds)),
    ...(await alternate(all(readOperations), plan.read, Math.min(plan.warmup, 2), plan.minSeconds)),
    ...(await alternate(all(writeOperations), plan.write, plan.warmup, plan.minSeconds)),
  ];
}
