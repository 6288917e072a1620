/** Whether every data file under a store root has an index (then queries need not list data files). */
import { listDataFiles } from '../query/engine/listing.js';
import type { Storage } from '../storage/types.js';

export async function storeIsFullyIndexed(storage: Storage, root: string): Promise<boolean> {
  const { files, indexes } = await listDataFiles(storage, root, true);
  return files.every((f) => indexes.has(f.path));
}
