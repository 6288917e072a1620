import { fileURLToPath } from 'node:url';

/**
 * Metron's PCAPExampleOutput (20 SSH packets in an IntWritable-keyed SequenceFile, SHA-256
 * fa62de55…7efd56), copied from ../shared/data/metron so tests do not depend on where the clone sits.
 */
export const SAMPLE_PATH = fileURLToPath(new URL('../fixtures/PCAPExampleOutput', import.meta.url));
