package quorumkv.replication;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;

/**
 * What this node's LeaderActor knows of leadership, for the parts of the node outside the actors
 * (membership's downing): whether it leads, and when its replica last heard from a leader.
 * Updated on every election tick.
 */
public final class ReplicationStatus implements Extension {
  private static final ExtensionId<ReplicationStatus> ID = new ExtensionId<>() {
    @Override
    public ReplicationStatus createExtension(ActorSystem<?> system) {
      return new ReplicationStatus();
    }
  };

  private volatile boolean leading;
  private volatile long joinedAtNanos;
  private volatile long lastLeaderContactNanos = System.nanoTime();

  public static ReplicationStatus get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /** This node joined the cluster (or, outside a cluster, started) now: it can hear a leader from here on. */
  void joined(long nanos) {
    if (joinedAtNanos == 0) {
      joinedAtNanos = nanos;
    }
  }

  /** When this node joined ({@link System#nanoTime}); 0 while it has not. */
  public long joinedAtNanos() {
    return joinedAtNanos;
  }

  void update(boolean leads, long lastContactNanos) {
    leading = leads;
    lastLeaderContactNanos = lastContactNanos;
  }

  public boolean leading() {
    return leading;
  }

  /** When this node last led or heard from a leader ({@link System#nanoTime}); its start until then. */
  public long lastLeaderContactNanos() {
    return lastLeaderContactNanos;
  }
}
