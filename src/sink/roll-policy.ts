/**
 * Metron's roll rule (metron-compat §3.3), evaluated before every append, with the two fixes of the
 * design: a packet earlier than the file's first one does not force a roll (Metron's unsigned
 * difference made it huge), and idle sealing happens elsewhere (wall clock, not packet time).
 */
export interface RollPolicy {
  numPackets: number;
  /** Packet-time span in ns; <= 0 disables time-based rolling. */
  maxTimeNs: bigint;
}

export function mustRoll(policy: RollPolicy, count: number, firstTsNs: bigint, tsNs: bigint): boolean {
  if (count >= policy.numPackets) return true;
  return policy.maxTimeNs > 0n && tsNs >= firstTsNs && tsNs - firstTsNs >= policy.maxTimeNs;
}

/**
 * The first packet time that rolls a file starting at `firstTsNs` by time (null: never), so the
 * per-record check (rollsBy) compares instead of subtracting (a BigInt made per record).
 */
export function rollDeadline(policy: RollPolicy, firstTsNs: bigint): bigint | null {
  return policy.maxTimeNs > 0n ? firstTsNs + policy.maxTimeNs : null;
}

/** mustRoll for a file whose rollDeadline is `deadline`: the same answer, with one comparison. */
export function rollsBy(policy: RollPolicy, count: number, deadline: bigint | null, tsNs: bigint): boolean {
  return count >= policy.numPackets || (deadline !== null && tsNs >= deadline);
}
