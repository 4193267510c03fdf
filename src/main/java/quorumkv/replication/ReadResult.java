package quorumkv.replication;

import quorumkv.CborSerializable;

/** The answer to a read: a {@link FollowerActor.Value}, or why it could not be served. */
public sealed interface ReadResult extends CborSerializable permits FollowerActor.Value, ReadResult.Unavailable {

  /** No leader, or the leader could not confirm it still leads: 503. */
  record Unavailable(String reason) implements ReadResult {}
}
