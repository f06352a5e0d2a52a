// The knowledge-graph page of an end-to-end account: entities with their
// observations, and relations, decrypted from this browser's replica; search
// with search_nodes' own rules (src/vault/graph-rules.ts, as the server
// matches); create and delete entities, observations and relations. Like the
// memories page, every change lands in this browser's ciphertext cache first
// and is sent when the server can be reached, so it works offline.
import { announce, byId, confirmingButton, element, onSubmit } from '../dom.ts';
import type { LocalClient } from '../client.ts';
import type { Entity, Relation } from '../transfer.ts';
import { type LiveStatus, replicaPage, type ReplicaView } from './live.ts';

export async function graphPage(): Promise<void> {
  await replicaPage((client, live) => new GraphView(client, live));
}

function value(id: string): string {
  return byId<HTMLInputElement | HTMLTextAreaElement>(id).value;
}

class GraphView implements ReplicaView {
  #query = '';

  constructor(
    private readonly client: LocalClient,
    private readonly live: LiveStatus,
  ) {
    onSubmit(byId<HTMLFormElement>('graph-search-form'), async () => {
      this.#query = value('graph-q').trim();
      this.render();
    });
    byId('graph-search-clear').addEventListener('click', () => {
      byId<HTMLInputElement>('graph-q').value = '';
      this.#query = '';
      this.render();
    });
    onSubmit(byId<HTMLFormElement>('entity-form'), async () => {
      const observations = value('entity-observations').split('\n').map((o) => o.trim()).filter(Boolean);
      await this.client.createEntity({ name: value('entity-name'), entityType: value('entity-type'), observations });
      byId<HTMLFormElement>('entity-form').reset();
      announce('Entity saved.', 'ok');
      await this.live.sync();
    });
    onSubmit(byId<HTMLFormElement>('relation-form'), async () => {
      await this.client.createRelation({ from: value('relation-from'), to: value('relation-to'), relationType: value('relation-type') });
      byId<HTMLFormElement>('relation-form').reset();
      announce('Relation saved.', 'ok');
      await this.live.sync();
    });
  }

  render(): void {
    const { entities, relations } = this.client.graph(this.#query);
    byId('graph-results').textContent = this.#query ? `Entities matching “${this.#query}”` : 'Entities';
    byId('graph-search-clear').hidden = !this.#query;
    byId('entity-names').replaceChildren(...this.client.graph().entities.map((e) => element('option', { attrs: { value: e.name } })));
    const list = byId('entities');
    list.replaceChildren(...entities.map((entity, i) => this.#entity(entity, `entity-${i}`)));
    if (entities.length === 0) list.append(element('li', { className: 'muted', text: this.#query ? 'No entity matches.' : 'No entities yet. Add one above, or let your MCP client create them.' }));
    const relationList = byId('relations');
    relationList.replaceChildren(...relations.map((relation, i) => this.#relation(relation, `relation-${i}`)));
    if (relations.length === 0) relationList.append(element('li', { className: 'muted', text: 'No relations.' }));
  }

  #entity(entity: Entity, id: string): HTMLLIElement {
    const titleId = `${id}-name`;
    const observations = element('ul', { className: 'observations', attrs: { 'aria-label': 'Observations' } }, entity.observations.map((observation, n) => {
      const textId = `${id}-observation-${n}`;
      const remove = confirmingButton('Delete', textId, async () => {
        await this.client.deleteObservation(entity.name, observation);
        announce('Observation deleted.', 'ok');
        await this.live.sync();
      });
      return element('li', { className: 'observation' }, [element('span', { text: observation, attrs: { id: textId } }), document.createTextNode(' '), remove]);
    }));
    const input = element('input', { attrs: { id: `${id}-add`, name: 'observation', type: 'text', autocomplete: 'off', required: '' } });
    const add = element('form', { className: 'add-observation' }, [
      element('label', { text: 'Add an observation', attrs: { for: input.id } }),
      input,
      element('div', { className: 'actions' }, [element('button', { className: 'secondary', text: 'Add', attrs: { type: 'submit' } })]),
    ]);
    onSubmit(add, async () => {
      await this.client.addObservation(entity.name, input.value);
      announce('Observation added.', 'ok');
      await this.live.sync();
    });
    const remove = confirmingButton('Delete entity', titleId, async () => {
      await this.client.deleteEntity(entity.name);
      announce('Entity deleted, with its relations.', 'ok');
      await this.live.sync();
    });
    return element('li', { className: 'memory entity', attrs: { 'data-name': entity.name } }, [
      element('h3', { text: entity.name, attrs: { id: titleId } }),
      element('div', { className: 'meta' }, [element('span', { className: 'tag', text: entity.entityType }), element('span', { className: 'grow' }), remove]),
      observations,
      add,
    ]);
  }

  #relation(relation: Relation, id: string): HTMLLIElement {
    const textId = `${id}-text`;
    return element('li', { className: 'memory relation', attrs: { 'data-from': relation.from, 'data-to': relation.to, 'data-type': relation.relationType } }, [
      element('div', { className: 'meta' }, [
        element('span', { className: 'content', text: `${relation.from} → ${relation.relationType} → ${relation.to}`, attrs: { id: textId } }),
        element('span', { className: 'grow' }),
        confirmingButton('Delete', textId, async () => {
          await this.client.deleteRelation(relation);
          announce('Relation deleted.', 'ok');
          await this.live.sync();
        }),
      ]),
    ]);
  }
}
