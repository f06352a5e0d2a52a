// Ranked search through GET /api/v1/memories/search: BM25-style relevance,
// prefix matching, Unicode-aware tokens (accents, ß, CJK, Cyrillic, Greek),
// tag filter and limit. Each scenario has its own user, so its documents are
// the whole corpus that statistics are computed over.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { testDrivers } from './support.ts';

interface Hit {
  memory: { id: string; content: string; tags: string[] };
  score: number;
}

for (const driver of await testDrivers('HTTP search')) {
  describe(`search (${driver})`, () => {
    let t: TestApp;
    before(async () => {
      t = await makeTestApp({ driver });
    });
    after(() => t.close());

    /** A new user holding exactly these memories. */
    async function userWith(memories: Array<string | { content: string; tags: string[] }>): Promise<TestUser> {
      const user = await signUp(t.app);
      for (const m of memories) {
        const payload = typeof m === 'string' ? { content: m } : m;
        const response = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload });
        assert.equal(response.statusCode, 201);
      }
      return user;
    }

    async function search(user: TestUser, q: string, extra = ''): Promise<Hit[]> {
      const response = await t.app.inject({ method: 'GET', url: `/api/v1/memories/search?q=${encodeURIComponent(q)}${extra}`, headers: bearer(user.apiKey) });
      assert.equal(response.statusCode, 200, response.body);
      const { results, unreadable } = response.json() as { results: Hit[]; unreadable: string[] };
      assert.deepEqual(unreadable, []);
      for (let i = 1; i < results.length; i++) assert.ok(results[i - 1]!.score >= results[i]!.score, 'ranked by score');
      for (const hit of results) assert.ok(hit.score > 0);
      return results;
    }
    const contents = (hits: Hit[]) => hits.map((h) => h.memory.content);

    it('ranks a memory that mentions the term more often first, and leaves out memories without it', async () => {
      const user = await userWith(['apple banana cherry date', 'apple apple apple cherry', 'banana cherry date fig']);
      assert.deepEqual(contents(await search(user, 'apple')), ['apple apple apple cherry', 'apple banana cherry date']);
    });

    it('ranks the shorter of two memories with the term once higher', async () => {
      const user = await userWith(['kiwi season starts in spring and lasts until the end of the summer months', 'kiwi season', 'unrelated note']);
      assert.deepEqual(contents(await search(user, 'kiwi')), ['kiwi season', 'kiwi season starts in spring and lasts until the end of the summer months']);
    });

    it('weighs a rare term more than a common one', async () => {
      const user = await userWith(['horse stable', 'zebra stable', 'horse field', 'horse barn', 'horse meadow']);
      const hits = await search(user, 'horse zebra');
      assert.equal(hits[0]!.memory.content, 'zebra stable');
      assert.equal(hits.length, 5);
    });

    it('matches prefixes, ranking the exact word above a longer one', async () => {
      const user = await userWith(['Die Katze schläft auf dem Sofa', 'Kat is short for Katherine', 'a dog in the garden']);
      const hits = await search(user, 'kat');
      assert.deepEqual(contents(hits), ['Kat is short for Katherine', 'Die Katze schläft auf dem Sofa']);
      assert.deepEqual(contents(await search(user, 'KATZ')), ['Die Katze schläft auf dem Sofa']);
    });

    it('finds German text with or without umlauts and ß', async () => {
      const user = await userWith(['Die Katze schläft in der Straße', 'Müller wohnt in Köln', 'nothing else']);
      for (const q of ['schläft', 'schlaft', 'SCHLÄFT', 'straße', 'strasse', 'STRASSE']) assert.deepEqual(contents(await search(user, q)), ['Die Katze schläft in der Straße'], q);
      for (const q of ['müller', 'muller', 'köln', 'koln']) assert.deepEqual(contents(await search(user, q)), ['Müller wohnt in Köln'], q);
    });

    it('folds accents: "cafe" finds "café", "creme brulee" finds "crème brûlée"', async () => {
      const user = await userWith(['Meeting at the café on Friday', 'Dessert: crème brûlée', 'mañana por la mañana']);
      assert.deepEqual(contents(await search(user, 'cafe')), ['Meeting at the café on Friday']);
      assert.deepEqual(contents(await search(user, 'Café')), ['Meeting at the café on Friday']);
      assert.deepEqual(contents(await search(user, 'creme brulee')), ['Dessert: crème brûlée']);
      assert.deepEqual(contents(await search(user, 'manana')), ['mañana por la mañana']);
    });

    it('finds Japanese and Chinese text by a run of its characters, also next to Latin letters', async () => {
      const user = await userWith(['東京タワーに行きました', '我喜欢吃饺子', '新しいiPhoneを買った', 'English only']);
      assert.deepEqual(contents(await search(user, '東京')), ['東京タワーに行きました']);
      assert.deepEqual(contents(await search(user, 'タワー')), ['東京タワーに行きました']);
      assert.deepEqual(contents(await search(user, '饺子')), ['我喜欢吃饺子']);
      assert.deepEqual(contents(await search(user, 'iphone')), ['新しいiPhoneを買った']);
      // Characters are indexed singly and in pairs, so a lone shared kana (た) matches weakly: the whole run ranks first.
      assert.equal(contents(await search(user, '買った'))[0], '新しいiPhoneを買った');
    });

    it('finds Cyrillic and Greek text, case- and accent-insensitively', async () => {
      const user = await userWith(['Привет, мир! Встреча в Москве', 'Καλημέρα κόσμε, ο λόγος είναι ελληνικός', 'plain ascii']);
      assert.deepEqual(contents(await search(user, 'МИР')), ['Привет, мир! Встреча в Москве']);
      assert.deepEqual(contents(await search(user, 'москв')), ['Привет, мир! Встреча в Москве']);
      for (const q of ['καλημερα', 'ΚΑΛΗΜΕΡΑ', 'λογος', 'ΛΌΓΟΣ', 'ελληνικοσ']) assert.deepEqual(contents(await search(user, q)), ['Καλημέρα κόσμε, ο λόγος είναι ελληνικός'], q);
    });

    it('searches tags too, filters by tag and honours the limit', async () => {
      const user = await userWith([
        { content: 'buy oat milk', tags: ['groceries'] },
        { content: 'buy a birthday present', tags: ['family'] },
        { content: 'buy train tickets', tags: ['travel'] },
        { content: 'renew the passport', tags: ['travel'] },
      ]);
      assert.deepEqual(contents(await search(user, 'groceries')), ['buy oat milk']);
      assert.deepEqual(contents(await search(user, 'buy', '&tag=Travel')), ['buy train tickets']);
      assert.equal((await search(user, 'buy', '&limit=2')).length, 2);
      assert.equal((await search(user, 'buy')).length, 3);
      assert.deepEqual(await search(user, 'nothing-matches-this'), []);
      assert.deepEqual(await search(user, '!!! ???'), [], 'a query without words finds nothing');
    });

    it('refuses an empty query and out-of-range limits with 400', async () => {
      const user = await signUp(t.app);
      for (const query of ['', 'q=', 'q=%20%20', 'q=x&limit=0', 'q=x&limit=51', `q=${'x'.repeat(501)}`, 'q=x&other=1']) {
        const response = await t.app.inject({ method: 'GET', url: `/api/v1/memories/search?${query}`, headers: bearer(user.apiKey) });
        assert.equal(response.statusCode, 400, query);
        assert.equal(response.json().error.code, 'validation_failed');
      }
    });

    it('finds a memory by its new words after an update and not after deletion', async () => {
      const user = await userWith([]);
      const created = (await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: 'the gate code is 1234' } })).json();
      await t.app.inject({ method: 'PATCH', url: `/api/v1/memories/${created.id}`, headers: bearer(user.apiKey), payload: { content: 'the door code changed' } });
      assert.deepEqual(await search(user, 'gate'), []);
      assert.deepEqual(contents(await search(user, 'door')), ['the door code changed']);
      await t.app.inject({ method: 'DELETE', url: `/api/v1/memories/${created.id}`, headers: bearer(user.apiKey) });
      assert.deepEqual(await search(user, 'door'), []);
    });
  });
}
