package quorumkv.replication;

import java.util.Optional;
import quorumkv.storage.ReplicaState;
import quorumkv.watch.WatchHistory;

/**
 * The committed, applied state of this node's replica as its {@link FollowerActor} last published
 * it: after recovery, after every event it persisted, and as soon as it hears of a commit (before
 * its journal write of the commit index). Local reads use it directly instead of
 * asking the actor, so they cost no message and never wait behind a persist (the actor stashes
 * every command while SQLite syncs). {@link ReplicaState} is immutable, so a reader always sees one
 * whole state, exactly one the actor itself would have answered from.
 */
public final class ReplicaView {
  /**
   * The last message this replica accepted from a leader: who, in which term, when
   * ({@link System#nanoTime}), the commit index it carried, and a count that changes with every
   * contact. The node's leader actor reads it to know who leads and whether the leader is alive.
   */
  public record Contact(long term, String leader, long atNanos, long leaderCommit, long count) {}

  private final String node;
  private volatile ReplicaState state;
  private volatile Contact contact;

  /** The changes this replica applied, for watch streams; null when nobody watches this replica. */
  private final WatchHistory watchHistory;

  public ReplicaView(String node) {
    this(node, null);
  }

  public ReplicaView(String node, WatchHistory watchHistory) {
    this.node = node;
    this.watchHistory = watchHistory;
  }

  /** The watch history the replica records its applied changes in; empty when it records none. */
  public Optional<WatchHistory> watchHistory() {
    return Optional.ofNullable(watchHistory);
  }

  void publish(ReplicaState published) {
    state = published;
  }

  void publishContact(Contact latest) {
    contact = latest;
  }

  /** The last contact with a leader; empty until there was one. */
  public Optional<Contact> contact() {
    return Optional.ofNullable(contact);
  }

  /** The applied state as last published; empty until the replica has recovered. */
  public Optional<ReplicaState> state() {
    return Optional.ofNullable(state);
  }

  /** The key as of the last published state; empty until the replica has recovered. */
  public Optional<FollowerActor.Value> read(String key) {
    ReplicaState current = state;
    return current == null ? Optional.empty() : Optional.of(FollowerActor.value(node, current, key));
  }
}
