package quorumkv.replication;

import java.util.Comparator;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
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

  /** Reads that may wait at once for an index to be applied; more are refused. */
  public static final int MAX_WAITING = 10_000;

  private record Waiter(long index, CompletableFuture<ReplicaState> until) {}

  private final String node;
  private volatile ReplicaState state;
  private final PriorityQueue<Waiter> waiters = new PriorityQueue<>(Comparator.comparingLong(Waiter::index));
  /** waiters.size(), readable without the lock: publish skips the lock when nobody waits. */
  private volatile int waiting;
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
    if (waiting == 0) {
      return;
    }
    synchronized (waiters) {
      while (!waiters.isEmpty() && waiters.peek().index() <= published.appliedIndex()) {
        Waiter w = waiters.poll();
        waiting = waiters.size();
        w.until().complete(published);
      }
    }
  }

  /**
   * The first published state that has applied {@code index}: now if the last one has, otherwise
   * when the replica publishes one (reads that must see a given write, e.g. the client's own). The
   * caller times the wait out with {@link #stopWaiting}. Empty when {@link #MAX_WAITING} reads wait
   * already.
   */
  public Optional<CompletableFuture<ReplicaState>> awaitApplied(long index) {
    ReplicaState current = state;
    if (current != null && current.appliedIndex() >= index) {
      return Optional.of(CompletableFuture.completedFuture(current));
    }
    synchronized (waiters) {
      if (waiters.size() >= MAX_WAITING) {
        current = state;
        return current != null && current.appliedIndex() >= index
            ? Optional.of(CompletableFuture.completedFuture(current)) : Optional.empty();
      }
      Waiter w = new Waiter(index, new CompletableFuture<>());
      waiters.add(w);
      waiting = waiters.size();
      // Only now look at the state again: publish writes the state before it reads waiting, and
      // this thread wrote waiting before it reads the state, so either that publish sees this
      // waiter or this thread sees its state (looking before registering missed a publish in
      // between: the read then waited out its timeout with the index applied).
      current = state;
      if (current != null && current.appliedIndex() >= index) {
        waiters.remove(w);
        waiting = waiters.size();
        w.until().complete(current);
      }
      return Optional.of(w.until());
    }
  }

  /** A wait from {@link #awaitApplied} is given up (timed out): forget it. */
  public void stopWaiting(CompletableFuture<ReplicaState> until) {
    synchronized (waiters) {
      waiters.removeIf(w -> w.until() == until);
      waiting = waiters.size();
    }
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

  /** The key in {@code published}, a state this view published, answered as from this node. */
  public FollowerActor.Value read(ReplicaState published, String key) {
    return FollowerActor.value(node, published, key);
  }

  /** The key as of the last published state; empty until the replica has recovered. */
  public Optional<FollowerActor.Value> read(String key) {
    ReplicaState current = state;
    return current == null ? Optional.empty() : Optional.of(FollowerActor.value(node, current, key));
  }
}
