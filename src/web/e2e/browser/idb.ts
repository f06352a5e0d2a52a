// A small promise wrapper over IndexedDB, where this browser keeps its
// device state (session token and key) and the ciphertext cache.

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
  });
}

export class Database {
  private constructor(private readonly db: IDBDatabase) {
    // Another tab deleting the database (logging out) must not wait for this one.
    db.onversionchange = () => db.close();
  }

  static async open(name: string, stores: readonly string[], version = 1): Promise<Database> {
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = () => {
      for (const store of stores) if (!request.result.objectStoreNames.contains(store)) request.result.createObjectStore(store);
    };
    return new Database(await done(request));
  }

  async get<T>(store: string, key: IDBValidKey): Promise<T | undefined> {
    return (await done(this.db.transaction(store).objectStore(store).get(key))) as T | undefined;
  }

  async all<T>(store: string): Promise<Array<{ key: IDBValidKey; value: T }>> {
    const tx = this.db.transaction(store);
    const [keys, values] = await Promise.all([done(tx.objectStore(store).getAllKeys()), done(tx.objectStore(store).getAll())]);
    return keys.map((key, i) => ({ key, value: values[i] as T }));
  }

  /** Puts and deletes in one transaction: all land, or none. */
  async write(changes: Array<{ store: string; key: IDBValidKey; value?: unknown }>): Promise<void> {
    if (changes.length === 0) return;
    const tx = this.db.transaction([...new Set(changes.map((c) => c.store))], 'readwrite');
    for (const change of changes) {
      if (change.value === undefined) tx.objectStore(change.store).delete(change.key);
      else tx.objectStore(change.store).put(change.value, change.key);
    }
    await committed(tx);
  }

  async clear(stores: readonly string[]): Promise<void> {
    const tx = this.db.transaction([...stores], 'readwrite');
    for (const store of stores) tx.objectStore(store).clear();
    await committed(tx);
  }

  close(): void {
    this.db.close();
  }

  static async remove(name: string): Promise<void> {
    await done(indexedDB.deleteDatabase(name) as IDBRequest<unknown>);
  }
}
