package quorumkv.replication;

import quorumkv.CborSerializable;

/** The answer to a read: a {@link FollowerActor.Value}, or why it could not be served. */
public sealed interface ReadResult extends CborSerializable permits FollowerActor.Value, ReadResult.Unavailable {

  /**
   * No leader, or the leader could not confirm it still leads: 503. {@code noLeaderKnown}: the node
   * asked knew of no leader to pass the read to (an election, or a deposed leader that has not
   * heard from the new one yet): the same read may well succeed a moment later.
   */
  record Unavailable(String reason, boolean noLeaderKnown) implements ReadResult {
    public Unavailable(String reason) {
      this(reason, false);
    }
  }
}
