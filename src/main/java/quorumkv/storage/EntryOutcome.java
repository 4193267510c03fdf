package quorumkv.storage;

import java.util.List;

/**
 * What applying a {@link WriteCommand} entry did. Every replica computes the same outcome at the
 * same log position; the leader's replica keeps it for a while ({@link ReplicaState#outcome}) so
 * the leader can answer the client once the entry is committed and applied. {@code term} is the
 * term of the entry applied, which tells the leader it is the entry it proposed.
 */
public sealed interface EntryOutcome {
  long term();

  /** A put with a TTL, or a compare-and-set put whose condition held: the put was done. */
  record Done(long term) implements EntryOutcome {}

  /** A delete (plain, or a compare-and-set whose condition held): whether the key was there to delete. */
  record Deleted(long term, boolean found) implements EntryOutcome {}

  /** A compare-and-set whose condition failed: nothing changed. {@code currentVersion} 0 when absent. */
  record ConditionFailed(long term, String key, long currentVersion) implements EntryOutcome {}

  record PrefixDeleted(long term, String prefix, int deleted) implements EntryOutcome {}

  /** A transaction: whether its compares held, and one result per op of the branch taken. */
  record TxnApplied(long term, boolean succeeded, List<TxnOpResult> results) implements EntryOutcome {}

  /** An expiry entry: {@code deleted} of its keys still had the version that set their TTL and were deleted. */
  record Expired(long term, int deleted) implements EntryOutcome {}
}
