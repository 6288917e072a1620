/** Hadoop SequenceFile (v6, uncompressed) support: format, streaming writer, streaming reader. */
export * from './format.js';
export * from './writer.js';
export * from './reader.js';
