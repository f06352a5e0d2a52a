// What the pages need from the end-to-end client: the account flows (sign-up,
// log-in, recovery, switch) and this device's local replica. Built on the
// shared client core (src/e2e-client/); this file only ties it to the browser
// (the device state and ciphertext cache in IndexedDB) and turns the core's
// errors into words for the user.
import * as core from '../../../e2e-client/index.ts';
import { nodeMatcher, touches } from '../../../vault/graph-rules.ts';
import { type Entity, type EntityRecord, LIMITS, type MemoryRecord, normaliseTags, type Relation, toMemory } from '../../../vault/records.ts';
import { JSON_EXPORT_FORMAT, JSON_EXPORT_VERSION } from '../../../vault/transfer-format.ts';
import { IndexedDbReplicaCache } from './cache.ts';
import { deviceState, forgetDevice, loadDevice, openDatabase, saveDevice } from './device.ts';
import { UserFacingError } from './dom.ts';
import { MemorySearch } from './search.ts';
import type { Importable, JsonExport, Memory } from './transfer.ts';

export interface ImportCounts {
  memories: number;
  entities: number;
  relations: number;
  skipped: number;
}

export type SyncState = 'syncing' | 'synced' | 'offline';

/** This browser's copy of an account: decrypted in memory, cached as ciphertext in IndexedDB. */
export interface LocalClient {
  readonly email: string;
  memories(): Memory[];
  search(query: string, limit: number): Array<{ memory: Memory; score: number }>;
  createMemory(content: string, tags: string[]): Promise<void>;
  updateMemory(id: string, content: string, tags: string[]): Promise<void>;
  deleteMemory(id: string): Promise<void>;
  /** The whole graph, or with a query what search_nodes answers: matching entities and the relations touching them. Sorted by name. */
  graph(query?: string): { entities: Entity[]; relations: Relation[] };
  createEntity(entity: Entity): Promise<void>;
  /** Deletes the entity and every relation from or to it, as delete_entities does. */
  deleteEntity(name: string): Promise<void>;
  addObservation(entityName: string, observation: string): Promise<void>;
  deleteObservation(entityName: string, observation: string): Promise<void>;
  createRelation(relation: Relation): Promise<void>;
  deleteRelation(relation: Relation): Promise<void>;
  importData(data: Importable): Promise<ImportCounts>;
  exportData(): JsonExport;
  /** Sends queued changes and applies the server's; an unreachable server leaves them queued. */
  sync(): Promise<void>;
  /** 'syncing' until a sync has finished (and while one runs), then whether the last one reached the server. */
  syncState(): SyncState;
  pendingCount(): number;
  onChange(listener: () => void): void;
  /** Deletes the account on the server and this browser's copy. */
  deleteAccount(): Promise<void>;
}

/** What the server's list of this account's sessions calls this one. */
const SESSION_LABEL = 'browser';

/** Same-origin calls: the pages and the API are one server. */
const api = new core.E2eApi({ baseUrl: '' });

/** The core's and the server's failures in the user's words (the server's messages are fixed text, never what was typed). */
async function explained<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof core.InvalidCredentials) throw new UserFacingError('The email, password or recovery code is not right.');
    if (error instanceof core.InvalidRecoveryCode) throw new UserFacingError('That is not a recovery code: it has 32 letters and digits, in groups of four.');
    if (error instanceof core.OfflineError) throw new UserFacingError('The server could not be reached. Check your connection and try again.');
    if (error instanceof core.E2eApiError) {
      if (error.code === 'email_taken') throw new UserFacingError('An account with this email already exists. Log in instead.');
      if (error.code === 'rate_limited') throw new UserFacingError('Too many attempts. Wait a minute, then try again.');
      if (error.status >= 400 && error.status < 500) throw new UserFacingError(`The server refused this: ${error.message}.`);
    }
    throw error;
  }
}

/** A new recovery code to show once, and whether this browser could keep the account open (IndexedDB may be blocked). */
export interface NewCode {
  recoveryCode: string;
  remembered: boolean;
}

/** Keeps the account open in this browser; a failure must not hide a recovery code the account already depends on. */
async function remember(account: core.NewAccount, email: string): Promise<NewCode> {
  try {
    await saveDevice(await deviceState(account.userId, email, account.token, account.dataKey));
    return { recoveryCode: account.recoveryCode, remembered: true };
  } catch {
    return { recoveryCode: account.recoveryCode, remembered: false };
  }
}

/** Creates an account. */
export async function signUp(email: string, password: string): Promise<NewCode> {
  return remember(await explained(() => core.signUp(api, { email, password, label: SESSION_LABEL })), email);
}

export async function logIn(email: string, password: string): Promise<void> {
  const session = await explained(() => core.logIn(api, { email, password, label: SESSION_LABEL }));
  await saveDevice(await deviceState(session.userId, email, session.token, session.dataKey));
}

/** Opens the account with the recovery code and sets a new password (and so a new recovery code). */
export async function recoverAccount(email: string, code: string, password: string): Promise<NewCode> {
  return remember(await explained(() => core.recover(api, { email, recoveryCode: code, newPassword: password, label: SESSION_LABEL })), email);
}

/** Converts the signed-in server-key account (its unlocked session cookie goes with every call), whose records are `exported`. */
export async function switchToEndToEnd(password: string, exported: JsonExport, email: string): Promise<NewCode> {
  return remember(await explained(async () => core.finishConversion(api, await core.startConversion(api, { password }), exported)), email);
}

/** This device's account, or null when this browser is not logged in. */
export async function openLocalClient(): Promise<LocalClient | null> {
  const db = await openDatabase();
  const device = await loadDevice(db);
  if (!device) {
    db.close();
    return null;
  }
  const session = api.withToken(device.token);
  const replica = await core.Replica.open({ api: session, userId: device.userId, dataKey: device.keys, cache: new IndexedDbReplicaCache(db) });
  return new BrowserClient(device.email, replica, session);
}

/** This device's session ended on the server (logged out elsewhere, or recovery logged every device out). */
export class LoggedOut extends UserFacingError {}

/** A name, type or relation type: trimmed, not empty, within the server's limit. */
function checkedName(text: string, what: string): string {
  const clean = text.trim();
  if (!clean) throw new UserFacingError(`${what} cannot be empty.`);
  if (clean.length > LIMITS.nameChars) throw new UserFacingError(`${what} has at most ${LIMITS.nameChars} characters.`);
  return clean;
}

function checkedObservation(text: string): string {
  const clean = text.trim();
  if (!clean) throw new UserFacingError('An observation cannot be empty.');
  if (clean.length > LIMITS.observationChars) throw new UserFacingError(`An observation has at most ${LIMITS.observationChars.toLocaleString()} characters.`);
  return clean;
}

const isoNow = (after?: string): string => {
  // Strictly after the newest creation, so "newest first" keeps the order memories were made in.
  const now = Date.now();
  return new Date(after && Date.parse(after) >= now ? Date.parse(after) + 1 : now).toISOString();
};

class BrowserClient implements LocalClient {
  readonly #listeners: Array<() => void> = [];
  #state: SyncState = 'syncing';
  #search: MemorySearch | null = null;

  constructor(
    readonly email: string,
    private readonly replica: core.Replica,
    private readonly api: core.E2eApi,
  ) {}

  async deleteAccount(): Promise<void> {
    await explained(() => this.api.deleteAccount());
    await forgetDevice();
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  #changed(): void {
    this.#search = null;
    for (const listener of this.#listeners) listener();
  }

  #memoryRecords(): MemoryRecord[] {
    const out: MemoryRecord[] = [];
    for (const [, live] of this.replica.records()) if (live.record.kind === 'memory') out.push(live.record);
    return out;
  }

  memories(): Memory[] {
    return this.#memoryRecords().sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id)).map(toMemory);
  }

  search(query: string, limit: number): Array<{ memory: Memory; score: number }> {
    this.#search ??= new MemorySearch(this.#memoryRecords().map(toMemory));
    return this.#search.search(query, limit);
  }

  #checked(content: string, tags: string[]): { content: string; tags: string[] } {
    const clean = normaliseTags(tags);
    if (content.length > LIMITS.contentChars) throw new UserFacingError(`A memory holds at most ${LIMITS.contentChars.toLocaleString()} characters.`);
    if (clean.length > LIMITS.tags || clean.some((t) => t.length > LIMITS.tagChars)) throw new UserFacingError(`A memory has at most ${LIMITS.tags} tags of at most ${LIMITS.tagChars} characters each.`);
    return { content, tags: clean };
  }

  async createMemory(content: string, tags: string[]): Promise<void> {
    const newest = this.memories()[0]?.created_at;
    const now = isoNow(newest);
    await this.replica.put({ kind: 'memory', id: this.replica.newMemoryId(), ...this.#checked(content, tags), created_at: now, updated_at: now });
    this.#changed();
  }

  async updateMemory(id: string, content: string, tags: string[]): Promise<void> {
    const live = this.replica.get(id);
    if (live?.record.kind !== 'memory') throw new UserFacingError('This memory no longer exists: it was deleted, perhaps on another device.');
    await this.replica.put({ ...live.record, ...this.#checked(content, tags), updated_at: isoNow(live.record.updated_at) });
    this.#changed();
  }

  async deleteMemory(id: string): Promise<void> {
    await this.replica.delete(id);
    this.#changed();
  }

  graph(query = ''): { entities: Entity[]; relations: Relation[] } {
    const entities: Entity[] = [];
    const relations: Relation[] = [];
    const matches = nodeMatcher(query);
    for (const [, { record }] of this.replica.records()) {
      if (record.kind === 'entity' && (!query || matches(record.name, record.entityType, record.observations))) {
        entities.push({ name: record.name, entityType: record.entityType, observations: [...record.observations] });
      }
      if (record.kind === 'relation') relations.push({ from: record.from, to: record.to, relationType: record.relationType });
    }
    const names = new Set(entities.map((e) => e.name));
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return {
      entities: entities.sort((a, b) => byName(a.name, b.name)),
      relations: relations
        .filter((r) => !query || touches(names, r.from, r.to))
        .sort((a, b) => byName(a.from, b.from) || byName(a.relationType, b.relationType) || byName(a.to, b.to)),
    };
  }

  async #entity(name: string): Promise<EntityRecord> {
    const live = this.replica.get(await this.replica.entityId(name))?.record;
    if (live?.kind !== 'entity') throw new UserFacingError('This entity no longer exists: it was deleted, perhaps on another device.');
    return live;
  }

  async createEntity(entity: Entity): Promise<void> {
    const name = checkedName(entity.name, 'An entity name');
    const entityType = checkedName(entity.entityType, 'An entity type');
    const observations = [...new Set(entity.observations.map((o) => checkedObservation(o)))];
    if (observations.length > LIMITS.observations) throw new UserFacingError(`An entity holds at most ${LIMITS.observations.toLocaleString()} observations.`);
    if (this.replica.get(await this.replica.entityId(name))) throw new UserFacingError('An entity with this name already exists: add observations to it instead.');
    await this.replica.put({ kind: 'entity', name, entityType, observations });
    this.#changed();
  }

  async deleteEntity(name: string): Promise<void> {
    const ids = [await this.replica.entityId(name)];
    const touching = this.graph().relations.filter((r) => touches(new Set([name]), r.from, r.to));
    for (const r of touching) ids.push(await this.replica.relationId(r.from, r.to, r.relationType));
    // One delete: the entity and its relations go together, or not at all.
    await this.replica.delete(...ids);
    this.#changed();
  }

  async addObservation(entityName: string, observation: string): Promise<void> {
    const entity = await this.#entity(entityName);
    const text = checkedObservation(observation);
    if (entity.observations.includes(text)) throw new UserFacingError('This entity already has that observation.');
    if (entity.observations.length >= LIMITS.observations) throw new UserFacingError(`An entity holds at most ${LIMITS.observations.toLocaleString()} observations.`);
    await this.replica.put({ ...entity, observations: [...entity.observations, text] });
    this.#changed();
  }

  async deleteObservation(entityName: string, observation: string): Promise<void> {
    const entity = await this.#entity(entityName);
    await this.replica.put({ ...entity, observations: entity.observations.filter((o) => o !== observation) });
    this.#changed();
  }

  async createRelation(relation: Relation): Promise<void> {
    const from = checkedName(relation.from, 'A relation\'s “from”');
    const to = checkedName(relation.to, 'A relation\'s “to”');
    const relationType = checkedName(relation.relationType, 'A relation type');
    if (this.replica.get(await this.replica.relationId(from, to, relationType))) throw new UserFacingError('This relation already exists.');
    await this.replica.put({ kind: 'relation', from, to, relationType });
    this.#changed();
  }

  async deleteRelation(relation: Relation): Promise<void> {
    await this.replica.delete(await this.replica.relationId(relation.from, relation.to, relation.relationType));
    this.#changed();
  }

  async importData(data: Importable): Promise<ImportCounts> {
    const counts: ImportCounts = { memories: 0, entities: 0, relations: 0, skipped: 0 };
    const records: core.UserRecord[] = [];
    for (const m of data.memories) {
      // A memory already here (the same id) is kept as it is.
      if (core.isRecordId(m.id) && this.replica.get(m.id)) {
        counts.skipped++;
        continue;
      }
      const id = core.isRecordId(m.id) && m.id !== core.MANIFEST_ID ? m.id : this.replica.newMemoryId();
      records.push({ kind: 'memory', id, content: m.content, tags: normaliseTags(m.tags), created_at: m.created_at, updated_at: m.updated_at });
      counts.memories++;
    }
    for (const e of data.entities) {
      // An entity already here keeps its type and gains the new observations.
      const live = this.replica.get(await this.replica.entityId(e.name))?.record;
      const observations = live?.kind === 'entity' ? [...new Set([...live.observations, ...e.observations])] : e.observations;
      if (live?.kind === 'entity' && observations.length === live.observations.length) {
        counts.skipped++;
        continue;
      }
      records.push({ kind: 'entity', name: e.name, entityType: live?.kind === 'entity' ? live.entityType : e.entityType, observations });
      counts.entities++;
    }
    for (const r of data.relations) {
      if (this.replica.get(await this.replica.relationId(r.from, r.to, r.relationType))) {
        counts.skipped++;
        continue;
      }
      records.push({ kind: 'relation', ...r });
      counts.relations++;
    }
    // One put: the whole file lands in this browser's cache, or none of it.
    if (records.length > 0) await this.replica.put(...records);
    this.#changed();
    return counts;
  }

  exportData(): JsonExport {
    const out: JsonExport = { format: JSON_EXPORT_FORMAT, version: JSON_EXPORT_VERSION, user_id: this.replica.userId, exported_at: new Date().toISOString(), memories: this.memories(), entities: [], relations: [], unreadable: [] };
    for (const [, { record }] of this.replica.records()) {
      if (record.kind === 'entity') out.entities.push({ name: record.name, entityType: record.entityType, observations: record.observations });
      if (record.kind === 'relation') out.relations.push({ from: record.from, to: record.to, relationType: record.relationType });
    }
    return out;
  }

  async sync(): Promise<void> {
    this.#state = 'syncing';
    try {
      const report = await this.replica.sync();
      this.#state = 'synced';
      if (report.changed.length > 0) this.#changed();
    } catch (error) {
      if (error instanceof core.OfflineError) {
        this.#state = 'offline';
        return;
      }
      if (error instanceof core.E2eApiError && error.status === 401) {
        await forgetDevice();
        throw new LoggedOut('This browser was logged out of your account (on another device, or by a recovery). Log in again.');
      }
      if (error instanceof core.IntegrityError) throw new UserFacingError(`Stopped syncing: ${error.message}. Your data in this browser is unchanged.`);
      throw error;
    }
  }

  syncState(): SyncState {
    return this.#state;
  }

  pendingCount(): number {
    return this.replica.pendingCount;
  }
}

/** Ends the session on the server (when it can be reached) and erases this device's state. */
export async function logOut(): Promise<void> {
  const db = await openDatabase();
  const device = await loadDevice(db);
  db.close();
  if (device) {
    try {
      await core.logOut(api.withToken(device.token));
    } catch (error) {
      // Offline, or the session already ended: this device forgets it either way.
      if (!(error instanceof core.OfflineError) && !(error instanceof core.E2eApiError)) throw error;
    }
  }
  await forgetDevice();
}
