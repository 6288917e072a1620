/**
 * Messages between the sink's index encoder and its worker thread (structured clone; the typed
 * arrays' buffers are transferred, not copied, both ways).
 */
import type { IndexSummary } from '../../formats/index/packet-index-format.js';
import type { IndexColumnsView } from '../../formats/index/v2/writer.js';

export interface EncodeJob {
  id: number;
  /** The file's index columns, their buffers transferred: the sending thread no longer holds them. */
  columns: IndexColumnsView;
  addresses: string[];
  summary: IndexSummary;
  /** Tests only: a fixed sync marker and fresh deflate trials, so the bytes can be compared. */
  deterministic?: { sync: Uint8Array };
}

export interface EncodedSketch {
  name: string;
  hashes: number;
  bits: Uint8Array;
}

export type EncodeReply =
  /** The index file is the pieces in order (transferred; see encode-job.ts transferablePieces). */
  | { id: number; ok: true; pieces: Uint8Array[]; sketches: EncodedSketch[] }
  | { id: number; ok: false; message: string };
