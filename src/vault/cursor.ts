// Opaque page cursors: the position of the last item a page showed
// (metadata only: a row's creation time and id, never content).
import { badRequest } from '../errors.ts';
import type { RecordCursor } from '../storage/store.ts';

export function encodeCursor(position: RecordCursor & { phase?: string }): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor(cursor: string): RecordCursor & { phase?: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      typeof value === 'object' && value !== null &&
      typeof (value as RecordCursor).createdAt === 'number' &&
      typeof (value as RecordCursor).id === 'string'
    ) {
      return value as RecordCursor & { phase?: string };
    }
  } catch {
    // falls through to the one error below
  }
  throw badRequest('the cursor is not one this server issued');
}
