package quorumkv.replication;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import quorumkv.CborSerializable;

/**
 * The answer to a client write; the HTTP layer maps each case to a status code. The type names
 * let a list of answers ({@link WriteForwarder.Results}) cross the network.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME)
@JsonSubTypes({
    @JsonSubTypes.Type(value = WriteResult.Written.class, name = "written"),
    @JsonSubTypes.Type(value = WriteResult.QuorumNotReached.class, name = "quorum-not-reached"),
    @JsonSubTypes.Type(value = WriteResult.NotEnoughReplicas.class, name = "not-enough-replicas"),
    @JsonSubTypes.Type(value = WriteResult.NoLeader.class, name = "no-leader"),
    @JsonSubTypes.Type(value = WriteResult.Overloaded.class, name = "overloaded")})
public sealed interface WriteResult extends CborSerializable {

  /** Durable on the leader and on {@code acks >= quorum} followers. */
  record Written(String key, long version, int acks, int quorum, String node) implements WriteResult {}

  /** Logged as {@code version} but not acknowledged by enough followers in time: in doubt. */
  record QuorumNotReached(String key, long version, int acks, int quorum, String node, String reason)
      implements WriteResult {}

  /** Refused before it was logged: fewer followers reachable than the quorum asks for. */
  record NotEnoughReplicas(String key, int reachable, int quorum, String node) implements WriteResult {}

  /** Refused before it was logged: no leader is serving writes yet (an election is under way). */
  record NoLeader(String key, String reason, String node) implements WriteResult {}

  /** Refused before it was logged: too many writes are waiting for their quorum. */
  record Overloaded(String key, int pending, String node) implements WriteResult {}
}
