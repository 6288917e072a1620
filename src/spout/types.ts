/**
 * What the sink side needs from a Kafka consumer, without kafkajs: the real `KafkaSpout` implements
 * it, and so does the scripted consumer of the fault-model harness (test/helpers/scripted-consumer.ts).
 */

export interface SpoutMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface SpoutBatch {
  topic: string;
  partition: number;
  messages: SpoutMessage[];
  /** Marks an offset as handled, so the next fetch moves past it (commits are separate). */
  resolveOffset(offset: string): void;
  /** False once the consumer is stopping or the batch went stale (seek, rebalance): stop early. */
  shouldContinue(): boolean;
}

/** A (re)join's assignment of the topic's partitions, and how it differs from the one before. */
export interface AssignmentChange {
  assignment: number[];
  revoked: number[];
  kept: number[];
  assigned: number[];
}

export interface PartitionOffsets {
  low: bigint;
  high: bigint;
}

/** The per-partition operations a partition owner drives. */
export interface PartitionConsumer {
  /** The group's committed offset (next offset to read), or null when there is none. */
  committed(partition: number): Promise<bigint | null>;
  /** Commit `nextOffset` (the next offset to read) for this partition in the current generation. */
  commit(partition: number, nextOffset: bigint): Promise<void>;
  /** The partition's earliest and end offsets. */
  offsets(partition: number): Promise<PartitionOffsets>;
  /** Make the next fetch of this partition start at `offset`. */
  seek(partition: number, offset: bigint): void;
  /** Whether this member holds the partition in the current generation. */
  owns(partition: number): boolean;
}
