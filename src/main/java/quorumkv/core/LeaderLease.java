package quorumkv.core;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * How long a leader may serve reads from its own replica without asking anyone (Raft thesis §6.4.1,
 * etcd's lease-based reads). A replica refuses to promise a new term to another candidate while it
 * heard from a leader within the minimum election timeout ({@link LeaderContact#grantsPromise}).
 * Each message the leader sends carries its send time on the leader's monotonic clock, and each
 * answer brings that time back. Once its own replica and W followers answered messages sent at or
 * after {@code s}, those W + 1 replicas promise nobody else before {@code s} plus the minimum
 * election timeout (each heard it no earlier than {@code s}). A new leader needs N − W promises and
 * only N − W − 1 replicas remain, so until then no newer leader exists and no write can have been
 * acknowledged that this leader's state lacks. The lease is a little shorter than that timeout,
 * for clocks that do not run at the same rate. Pure: time comes in as an argument.
 */
public final class LeaderLease {
  private final String leader;
  private final int followersNeeded;
  private final long leaseNanos;
  private final Map<String, Long> followersSentAt = new HashMap<>();
  private long localSentAt = Long.MIN_VALUE;
  private long validUntil = Long.MIN_VALUE;
  private boolean granted;
  private long[] sorted = new long[0];

  /**
   * {@code leader}: this node (its own replica's answers); {@code followersNeeded}: W;
   * {@code leaseNanos}: below the minimum election timeout every replica refuses promises for.
   */
  public LeaderLease(String leader, int followersNeeded, long leaseNanos) {
    if (followersNeeded < 0 || leaseNanos <= 0) {
      throw new IllegalArgumentException("need W >= 0 and a positive lease, got " + followersNeeded + ", " + leaseNanos);
    }
    this.leader = leader;
    this.followersNeeded = followersNeeded;
    this.leaseNanos = leaseNanos;
  }

  /** The lease for an election timeout of {@code minElectionTimeoutNanos}: nine tenths of it. */
  public static long leaseFor(long minElectionTimeoutNanos) {
    return minElectionTimeoutNanos - minElectionTimeoutNanos / 10;
  }

  /** {@code replica} accepted a message of this leader's term that was sent at {@code sentAtNanos}. */
  public void answered(String replica, long sentAtNanos) {
    if (replica.equals(leader)) {
      if (sentAtNanos <= localSentAt) {
        return;
      }
      localSentAt = sentAtNanos;
    } else {
      Long before = followersSentAt.get(replica);
      if (before != null && before >= sentAtNanos) {
        return;
      }
      followersSentAt.put(replica, sentAtNanos);
    }
    recompute();
  }

  private void recompute() {
    long since = localSentAt;
    if (followersNeeded > 0) {
      if (followersSentAt.size() < followersNeeded) {
        return;
      }
      // Once per answer, so no stream: the follower times copied into an array kept between calls.
      if (sorted.length != followersSentAt.size()) {
        sorted = new long[followersSentAt.size()];
      }
      int i = 0;
      for (long t : followersSentAt.values()) {
        sorted[i++] = t;
      }
      Arrays.sort(sorted);
      since = Math.min(since, sorted[sorted.length - followersNeeded]);
    }
    if (since == Long.MIN_VALUE) {
      return;
    }
    validUntil = since + leaseNanos;
    granted = true;
  }

  /** Whether no newer leader can exist at {@code nowNanos}: reads may be served without a round. */
  public boolean holds(long nowNanos) {
    return granted && nowNanos - validUntil < 0;
  }

  /** Nanoseconds the lease has left at {@code nowNanos}, 0 when it does not hold. */
  public long remainingNanos(long nowNanos) {
    return holds(nowNanos) ? validUntil - nowNanos : 0;
  }
}
