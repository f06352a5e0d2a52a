// Realistic, reproducible test data: a knowledge graph (people, projects,
// organisations, places, tools with 2-3 observations each, and relations
// between them) and free-text memories with tags. A seeded PRNG makes every
// run produce the same text, so runs compare.
import { randomUUID } from 'node:crypto';
import type { Entity, Relation } from '../../src/vault/records.ts';

/** mulberry32: small, fast, good enough to pick words. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ('Amara Ben Chloe Dmitri Elena Farid Grace Hiro Ines Jonas Kemi Liam Maya Nikolai Olga Priya Quentin Rosa Sven Tariq ' +
  'Uma Viktor Wen Ximena Yusuf Zoe Aisha Bruno Carmen Daniel Emeka Freya Gustavo Hana Ivan Julia Kofi Lucia Mateo Nadia Omar ' +
  'Paula Rafael Sofia Tomas Valentina William Yara Zainab Leo').split(' ');
const LAST = ('Okafor Lindqvist Moreau Tanaka Kowalski Haddad Fernandes Novak Brennan Castillo Adeyemi Schmidt Rossi Nakamura ' +
  'Petrov Silva Jensen Kaur Dubois Yilmaz Mendes Varga Horvath Ibrahim Larsen Murphy Nguyen Patel Quinn Romero Sato Takahashi ' +
  'Walsh Weber Zhang Abbott Bianchi Costa Duarte Eriksen Fischer Garcia Hansen Jovanovic Keller Lopez Meyer Nilsson Olsen ' +
  'Reyes Santos Torres Vogel Wagner Ziegler').split(' ');
const CITIES = ('Lisbon Porto Berlin Munich Lagos Nairobi Osaka Kyoto Warsaw Krakow Toronto Montreal Dublin Cork Madrid Valencia ' +
  'Oslo Bergen Seoul Busan Lyon Marseille Vienna Zagreb Austin Denver Santiago Lima Cairo Tunis').split(' ');
const ADJECTIVES = ('Blue Silver Quiet Rapid Northern Golden Hidden Bright Green Iron Crimson Amber Swift Gentle Bold Coral ' +
  'Distant Frozen Hollow Lunar Misty Noble Polar Rustic Solar Stone Velvet Wild Young Ancient').split(' ');
const NOUNS = ('Heron Harbor Falcon Meadow Lantern Compass Orchard Summit Beacon River Canyon Forest Glacier Island Maple ' +
  'Pebble Quartz Raven Sparrow Tundra Willow Anchor Bridge Cedar Delta Ember Fjord Grove Horizon Juniper').split(' ');
const PROJECT_KINDS = 'migration redesign rollout audit launch pilot study refactor upgrade campaign'.split(' ');
const ORG_SUFFIXES = ['Labs', 'and Partners', 'Logistics', 'Health', 'Foods', 'Capital', 'Studio', 'Systems', 'Consulting', 'Foundation'];
const STREETS = ('Rua Augusta,Friedrichstrasse,Calle Mayor,Main Street,Karl Johans gate,Rue de la Paix,Ulica Floriańska,' +
  'Queen Street,Avenida Paulista,Gran Via,Baker Street,Nørrebrogade').split(',');
const TOOLS = ('PostgreSQL,Kubernetes,Terraform,Grafana,Jira,Figma,Notion,Slack,Docker,Redis,Kafka,Airflow,Tableau,Excel,' +
  'Salesforce,SAP,Jenkins,GitLab,Sentry,Datadog,Elasticsearch,RabbitMQ,Ansible,Vault,Prometheus').split(',');
const ROLES = 'product manager,data engineer,designer,nurse,accountant,site reliability engineer,teacher,lawyer,chef,researcher,sales lead,architect'.split(',');
const DRINKS = 'green tea,espresso,oat flat white,sparkling water,rooibos,hot chocolate,matcha,filter coffee'.split(',');
const MONTHS = 'January February March April May June July August September October November December'.split(' ');
const WEEKDAYS = 'Monday Tuesday Wednesday Thursday Friday'.split(' ');
const LANGUAGES = 'Portuguese German Japanese Polish Yoruba Swahili Spanish Norwegian Korean French Arabic Croatian'.split(' ');
const FOODS = 'peanuts shellfish gluten lactose sesame kiwi'.split(' ');
const EVENTS = 'product offsite,climbing gym,book club,conference in Vienna,hackathon,wedding in Porto,board meeting,school fair'.split(',');
const TEAMS = 'platform,billing,growth,data,mobile,security,support,research'.split(',');
const PURPOSES = 'deployments,dashboards,ticket tracking,nightly backups,customer reports,alerting,design reviews'.split(',');
const RELATION_TYPES = ['works with', 'reports to', 'manages', 'knows', 'works at', 'lives in', 'uses', 'contributes to'];
const TAGS = 'preference,work,family,travel,health,project,meeting,idea,todo,finance,food,reading'.split(',');

/**
 * Surnames and cities that occur in a few percent of the records: search
 * queries that match a modest number of them, as a real lookup would.
 */
export const SEARCH_QUERIES = ['Okafor', 'Lindqvist', 'Nakamura', 'Kowalski', 'Haddad', 'Brennan', 'Jovanovic', 'Castillo', 'Montreal', 'Valencia'];

export type { Entity, Relation };
export interface MemoryInput {
  content: string;
  tags: string[];
}
export interface Dataset {
  entities: Entity[];
  relations: Relation[];
  memories: MemoryInput[];
}

class Words {
  constructor(readonly random: () => number) {}
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]!;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }
  person(): string {
    return `${this.pick(FIRST)} ${this.pick(LAST)}`;
  }
  project(): string {
    return `${this.pick(ADJECTIVES)} ${this.pick(NOUNS)} ${this.pick(PROJECT_KINDS)}`;
  }
  organisation(): string {
    return `${this.pick(LAST)} ${this.pick(ORG_SUFFIXES)}`;
  }
  date(): string {
    return `${this.pick(MONTHS)} ${this.int(1, 28)}`;
  }
  year(): number {
    return this.int(2015, 2026);
  }
}

type Template = (w: Words) => string;
const OBSERVATIONS: Record<string, Template[]> = {
  person: [
    (w) => `Works at ${w.organisation()} as a ${w.pick(ROLES)}.`,
    (w) => `Lives in ${w.pick(CITIES)} and cycles to work most days.`,
    (w) => `Prefers ${w.pick(DRINKS)} in the morning.`,
    (w) => `Met at the ${w.pick(EVENTS)} in ${w.pick(MONTHS)} ${w.year()}.`,
    (w) => `Birthday is on ${w.date()}.`,
    (w) => `Leads the ${w.project()} together with ${w.person()}.`,
    (w) => `Speaks ${w.pick(LANGUAGES)} and English.`,
    (w) => `Allergic to ${w.pick(FOODS)}; remember when booking dinner.`,
  ],
  project: [
    (w) => `Started in ${w.pick(MONTHS)} ${w.year()}, owned by ${w.person()}.`,
    (w) => `Deadline moved to ${w.date()} after the ${w.pick(EVENTS)}.`,
    (w) => `Runs on ${w.pick(TOOLS)} in the ${w.pick(CITIES)} region.`,
    (w) => `Budget of ${w.int(5, 400)} thousand euros approved by ${w.person()}.`,
  ],
  organisation: [
    (w) => `Headquartered in ${w.pick(CITIES)}.`,
    (w) => `Client since ${w.year()}; the main contact is ${w.person()}.`,
    (w) => `Uses ${w.pick(TOOLS)} for billing and ${w.pick(TOOLS)} for support.`,
  ],
  place: [
    (w) => `Office of ${w.organisation()}.`,
    (w) => `Meeting room booked every ${w.pick(WEEKDAYS)} morning by ${w.person()}.`,
    () => 'Parking is behind the building; the side door needs a badge.',
  ],
  tool: [
    (w) => `Used by the ${w.pick(TEAMS)} team for ${w.pick(PURPOSES)}.`,
    (w) => `Upgrade planned for ${w.pick(MONTHS)} ${w.year()} by ${w.person()}.`,
  ],
};

const MEMORIES: Template[] = [
  (w) => `${w.person()} prefers ${w.pick(DRINKS)} and usually joins the standup on ${w.pick(WEEKDAYS)}.`,
  (w) => `The ${w.project()} deadline moved to ${w.date()}; ${w.person()} owns the follow-up.`,
  (w) => `User is planning a trip to ${w.pick(CITIES)} in ${w.pick(MONTHS)} and wants a quiet hotel near the old town.`,
  (w) => `${w.person()} is allergic to ${w.pick(FOODS)}, so avoid it when ordering lunch for the team.`,
  (w) => `Decided to move the ${w.pick(TEAMS)} dashboards from ${w.pick(TOOLS)} to ${w.pick(TOOLS)} because of licence costs.`,
  (w) => `User's sister lives in ${w.pick(CITIES)} and her birthday is on ${w.date()}.`,
  (w) => `Code review convention: ${w.person()} wants small pull requests with a test for every bug fix.`,
  (w) => `The ${w.organisation()} contract renews on ${w.date()}; negotiate the ${w.pick(TOOLS)} licence first.`,
  (w) => `User speaks ${w.pick(LANGUAGES)} at home and is learning ${w.pick(LANGUAGES)} on weekday evenings.`,
  (w) => `Book club this month reads a novel set in ${w.pick(CITIES)}; ${w.person()} hosts on ${w.pick(WEEKDAYS)}.`,
  (w) => `User runs ${w.int(3, 21)} km on Sunday mornings and stretches after the ${w.pick(EVENTS)}.`,
  (w) => `Reminder: ask ${w.person()} about the ${w.pick(TOOLS)} outage report before the ${w.pick(EVENTS)}.`,
];

const ENTITY_TYPES: Array<[type: string, share: number]> = [['person', 0.6], ['project', 0.15], ['organisation', 0.1], ['place', 0.1], ['tool', 0.05]];

function entityName(w: Words, type: string): string {
  switch (type) {
    case 'person':
      return w.person();
    case 'project':
      return w.project();
    case 'organisation':
      return w.organisation();
    case 'place':
      return `${w.pick(STREETS)} ${w.int(1, 250)}, ${w.pick(CITIES)}`;
    default:
      return `${w.pick(TOOLS)} ${w.int(1, 40)}`;
  }
}

function pickType(w: Words): string {
  let x = w.random();
  for (const [type, share] of ENTITY_TYPES) {
    if ((x -= share) < 0) return type;
  }
  return 'person';
}

/** `count` entities, `count / 2` relations and `count` memories, the same for the same seed. */
export function makeDataset(count: number, seed: number): Dataset {
  const w = new Words(seededRandom(seed));
  const names = new Set<string>();
  const entities: Entity[] = [];
  for (let i = 0; i < count; i++) {
    const type = pickType(w);
    let name = entityName(w, type);
    // Common names repeat: a middle initial, then a number, tells namesakes apart.
    if (names.has(name)) name = name.replace(' ', ` ${String.fromCharCode(65 + w.int(0, 25))}. `);
    if (names.has(name)) name = `${name} (${i})`;
    names.add(name);
    const templates = OBSERVATIONS[type]!;
    const observations = new Set<string>();
    const wanted = w.int(2, 3);
    while (observations.size < wanted) observations.add(w.pick(templates)(w));
    entities.push({ name, entityType: type, observations: [...observations] });
  }
  const relations: Relation[] = [];
  const seen = new Set<string>();
  while (relations.length < Math.floor(count / 2)) {
    const relation = { from: w.pick(entities).name, to: w.pick(entities).name, relationType: w.pick(RELATION_TYPES) };
    const key = `${relation.from}\u0000${relation.to}\u0000${relation.relationType}`;
    if (relation.from === relation.to || seen.has(key)) continue;
    seen.add(key);
    relations.push(relation);
  }
  const memories = Array.from({ length: count }, () => {
    const tags = new Set([w.pick(TAGS)]);
    if (w.random() < 0.5) tags.add(w.pick(TAGS));
    return { content: w.pick(MEMORIES)(w), tags: [...tags] };
  });
  return { entities, relations, memories };
}

/** A fresh entity for write benchmarks; `i` keeps names unique within a run. */
export function newEntity(i: number, random: () => number): Entity {
  const w = new Words(random);
  return { name: `${w.person()} (visitor ${i})`, entityType: 'person', observations: [w.pick(OBSERVATIONS.person!)(w), w.pick(OBSERVATIONS.person!)(w)] };
}

/** A fresh memory for write benchmarks. */
export function newMemory(random: () => number): MemoryInput {
  const w = new Words(random);
  return { content: w.pick(MEMORIES)(w), tags: [w.pick(TAGS)] };
}

/** The graph as the reference server's memory.jsonl (one JSON object a line). */
export function memoryJsonl(dataset: Pick<Dataset, 'entities' | 'relations'>): string {
  return [
    ...dataset.entities.map((e) => JSON.stringify({ type: 'entity', name: e.name, entityType: e.entityType, observations: e.observations })),
    ...dataset.relations.map((r) => JSON.stringify({ type: 'relation', from: r.from, to: r.to, relationType: r.relationType })),
  ].join('\n');
}

/** Memories with ids and timestamps (one second apart, oldest first), as our JSON export holds them. */
export function datedMemories(memories: readonly MemoryInput[], endAt = Date.now()): Array<MemoryInput & { id: string; created_at: string; updated_at: string }> {
  const start = endAt - memories.length * 1000;
  return memories.map((m, i) => {
    const at = new Date(start + i * 1000).toISOString();
    return { id: randomUUID(), content: m.content, tags: m.tags, created_at: at, updated_at: at };
  });
}
