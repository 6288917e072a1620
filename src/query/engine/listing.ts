/** The data files under a base path, each with its exact time bounds when its index is present. */
import { INDEX_DIR, parseIndexFileName } from '../../formats/index/packet-index-format.js';
import { isStorageError } from '../../storage/errors.js';
import type { Storage } from '../../storage/types.js';
import type { ListedFile } from './prune.js';

/** Lists data files under basePath recursively, with exact bounds from `_index` names when present. */
export async function listDataFiles(
  storage: Storage,
  basePath: string,
  useIndex: boolean,
): Promise<{ files: ListedFile[]; indexes: Map<string, string> }> {
  const files: ListedFile[] = [];
  const indexes = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    const bounds = new Map<string, { min: bigint; max: bigint; path: string }>();
    const subdirs: string[] = [];
    const here: ListedFile[] = [];
    for await (const e of storage.list(dir)) {
      if (e.type === 'directory') {
        if (e.name === INDEX_DIR && useIndex) {
          for await (const ix of storage.list(e.path)) {
            const parsed = parseIndexFileName(ix.name);
            if (parsed) bounds.set(parsed.dataFile, { min: parsed.minTsNs, max: parsed.maxTsNs, path: ix.path });
          }
        } else if (!e.name.startsWith('.') && !e.name.startsWith('_')) subdirs.push(e.path);
      } else if (!e.name.startsWith('.') && !e.name.startsWith('_')) {
        here.push({ path: e.path, name: e.name, length: e.length, type: 'file' });
      }
    }
    for (const f of here) {
      const b = bounds.get(f.name);
      if (b) {
        f.minTsNs = b.min;
        f.maxTsNs = b.max;
        indexes.set(f.path, b.path);
      }
      files.push(f);
    }
    for (const d of subdirs) await walk(d);
  };
  try {
    const st = await storage.stat(basePath);
    if (st?.type === 'file') {
      const name = basePath.slice(basePath.lastIndexOf('/') + 1);
      return { files: [{ path: basePath, name, length: st.length, type: 'file' }], indexes };
    }
    await walk(basePath);
  } catch (err) {
    if (isStorageError(err, 'FileNotFoundException')) return { files, indexes };
    throw err;
  }
  return { files, indexes };
}
