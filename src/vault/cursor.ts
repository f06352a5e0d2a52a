// Opaque page cursors: the position of the last item a page showed
// (metadata only: a row's creation time and id, never content).
import { badRequest } from '../errors.ts';
import type { RecordCursor } from '../storage/store.ts';
import { type RecordCodec, UnreadableRecord } from './codec.ts';

export function encodeCursor(position: RecordCursor & { phase?: string }): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function isPosition(value: unknown): value is RecordCursor {
  return typeof value === 'object' && value !== null && typeof (value as RecordCursor).createdAt === 'number' && typeof (value as RecordCursor).id === 'string';
}

export function decodeCursor(cursor: string): RecordCursor & { phase?: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isPosition(value)) return value as RecordCursor & { phase?: string };
  } catch {
    // falls through to the one error below
  }
  throw badRequest('the cursor is not one this server issued');
}

/** Cursors of one search: each names where a page stopped and is good only for the query it was issued for. */
export interface SearchCursors {
  seal(position: RecordCursor): string;
  /** The position a cursor names; 400 when it was issued under another key, for another query, or altered. */
  open(cursor: string): RecordCursor;
}

const SEARCH_CURSOR_PURPOSE = 'search-cursor';

/**
 * search_nodes cursors, sealed as a Fernet token under the codec's key
 * (a user's K on the server): a cursor shows nothing of where it points or of
 * the query, one of another user does not open, and it carries the query's
 * keyed tag, so it cannot carry a page over to another query.
 */
export function sealedSearchCursors(codec: RecordCodec, query: string): SearchCursors {
  const tag = codec.lookup(SEARCH_CURSOR_PURPOSE, query);
  return {
    seal: ({ createdAt, id }) => codec.seal({ q: tag, createdAt, id }),
    open: (cursor) => {
      let value: unknown;
      try {
        value = codec.open(SEARCH_CURSOR_PURPOSE, cursor);
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
        throw badRequest('the cursor is not one this server issued');
      }
      if (!isPosition(value)) throw badRequest('the cursor is not one this server issued');
      if ((value as { q?: unknown }).q !== tag) throw badRequest('the cursor belongs to another search: pass the query it came with');
      return { createdAt: value.createdAt, id: value.id };
    },
  };
}
