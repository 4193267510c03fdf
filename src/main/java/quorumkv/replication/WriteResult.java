package quorumkv.replication;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;
import quorumkv.CborSerializable;
import quorumkv.storage.TxnOpResult;

/**
 * The answer to a client write; the HTTP layer maps each case to a status code. The type names
 * let a list of answers ({@link WriteForwarder.Results}) cross the network.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME)
@JsonSubTypes({
    @JsonSubTypes.Type(value = WriteResult.Written.class, name = "written"),
    @JsonSubTypes.Type(value = WriteResult.Deleted.class, name = "deleted"),
    @JsonSubTypes.Type(value = WriteResult.QuorumNotReached.class, name = "quorum-not-reached"),
    @JsonSubTypes.Type(value = WriteResult.NotEnoughReplicas.class, name = "not-enough-replicas"),
    @JsonSubTypes.Type(value = WriteResult.NoLeader.class, name = "no-leader"),
    @JsonSubTypes.Type(value = WriteResult.Overloaded.class, name = "overloaded"),
    @JsonSubTypes.Type(value = WriteResult.ConditionFailed.class, name = "condition-failed"),
    @JsonSubTypes.Type(value = WriteResult.PrefixDeleted.class, name = "prefix-deleted"),
    @JsonSubTypes.Type(value = WriteResult.TxnDone.class, name = "txn-done")})
public sealed interface WriteResult extends CborSerializable {

  /** Durable on the leader and on {@code acks >= quorum} followers. */
  record Written(String key, long version, int acks, int quorum, String node) implements WriteResult {}

  /**
   * A delete, durable as {@code version} on the leader and {@code acks >= quorum} followers, committed
   * and applied: {@code found} whether the key was there to delete (false: the entry changed nothing).
   */
  record Deleted(String key, long version, boolean found, int acks, int quorum, String node) implements WriteResult {}

  /** Logged as {@code version} but not acknowledged by enough followers in time: in doubt. */
  record QuorumNotReached(String key, long version, int acks, int quorum, String node, String reason)
      implements WriteResult {}

  /** Refused before it was logged: fewer followers reachable than the quorum asks for. */
  record NotEnoughReplicas(String key, int reachable, int quorum, String node) implements WriteResult {}

  /** Refused before it was logged: no leader is serving writes yet (an election is under way). */
  record NoLeader(String key, String reason, String node) implements WriteResult {}

  /** Refused before it was logged: too many writes are waiting for their quorum. */
  record Overloaded(String key, int pending, String node) implements WriteResult {}

  /**
   * A compare-and-set logged as {@code version} whose condition did not hold when it was applied
   * (committed, on every replica): nothing changed. {@code currentVersion} is 0 when the key is absent.
   */
  record ConditionFailed(String key, long version, long currentVersion, String node) implements WriteResult {}

  /** A prefix delete, committed and applied as {@code version}: {@code deleted} keys were removed. */
  record PrefixDeleted(String prefix, long version, int deleted, int acks, int quorum, String node)
      implements WriteResult {}

  /**
   * A transaction, committed and applied as {@code version}: whether its compares held, and one
   * result per op of the branch taken.
   */
  record TxnDone(boolean succeeded, long version, List<TxnOpResult> results, int acks, int quorum, String node)
      implements WriteResult {}
}
