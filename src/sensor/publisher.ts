/**
 * Batches sensor records in front of a kafkajs producer. kafkajs has no linger and sends each
 * `send` as one request, so the batching (librdkafka's linger.ms / batch.num.messages /
 * batch.size, settable with -X) is done here: one batch fills while the previous one is in flight;
 * when both are busy, `add` waits, which slows the reader and leaves the backlog in the capture
 * tool's pipe and kernel buffer (where drops are counted) instead of in our memory.
 */
import type { Message, ProducerRecord } from 'kafkajs';

/** The part of a kafkajs producer we use (a fake in unit tests). */
export interface SendTarget {
  send(record: ProducerRecord): Promise<unknown>;
}

export interface PublisherOptions {
  topic: string;
  /** Every record to this partition; default: kafkajs's partitioner (by key hash). */
  partition?: number;
  acks: -1 | 0 | 1;
  compression: number;
  timeoutMs?: number;
  /** Longest a record waits for its batch to fill (0 = send as soon as the previous send is done). */
  lingerMs: number;
  maxMessages: number;
  maxBytes: number;
}

export class PacketPublisher {
  private batch: Message[] = [];
  private batchBytes = 0;
  private inFlight: Promise<void> | null = null;
  private linger: NodeJS.Timeout | null = null;
  private failure: unknown = null;
  /** Records handed to `add`. */
  queued = 0;
  /** Records the broker acknowledged (per the configured acks). */
  acked = 0;

  constructor(
    private readonly target: SendTarget,
    private readonly o: PublisherOptions,
  ) {}

  /** Records queued or in flight, not yet acknowledged. */
  get pending(): number {
    return this.queued - this.acked;
  }

  /**
   * Queues one record. `key` and `value` are held until acknowledged (do not reuse them). Resolves
   * at once unless the batch is full and the previous one still in flight; rejects with the send
   * error once a send has failed (kafkajs retried it already).
   */
  async add(key: Buffer, value: Buffer): Promise<void> {
    this.throwIfFailed();
    this.batch.push(this.o.partition === undefined ? { key, value } : { key, value, partition: this.o.partition });
    this.batchBytes += key.length + value.length;
    this.queued++;
    if (this.batch.length >= this.o.maxMessages || this.batchBytes >= this.o.maxBytes) {
      await this.ship();
    } else if (this.linger === null) {
      this.linger = setTimeout(() => {
        this.linger = null;
        this.ship().catch(() => {}); // recorded in this.failure, reported by the next add or flush
      }, this.o.lingerMs);
    }
  }

  /** Sends what is batched and waits until every record is acknowledged. */
  async flush(): Promise<void> {
    while ((this.batch.length > 0 || this.inFlight) && this.failure === null) await this.ship();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }

  private async ship(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
    if (this.linger) {
      clearTimeout(this.linger);
      this.linger = null;
    }
    if (this.batch.length === 0 || this.failure !== null) return;
    const messages = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.inFlight = this.target
      .send({
        topic: this.o.topic,
        acks: this.o.acks,
        compression: this.o.compression,
        ...(this.o.timeoutMs !== undefined ? { timeout: this.o.timeoutMs } : {}),
        messages,
      })
      .then(
        () => {
          this.acked += messages.length;
        },
        (err: unknown) => {
          this.failure = err;
        },
      )
      .finally(() => {
        this.inFlight = null;
      });
  }
}
