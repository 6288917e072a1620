/** Hadoop SequenceFile (v6, uncompressed) support: format, streaming writer, streaming reader. */
export * from './sequencefile-format.js';
export * from './sequencefile-writer.js';
export * from './sequencefile-reader.js';
