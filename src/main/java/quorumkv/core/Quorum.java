package quorumkv.core;

import java.util.Arrays;

/**
 * The quorum arithmetic in one place. W ("write quorum") counts followers only: a write is
 * acknowledged when the leader's own replica and W follower replicas have it on disk, so W + 1
 * of the N = followers + 1 replicas hold every acknowledged write.
 */
public final class Quorum {
  private Quorum() {}

  /**
   * Promises a new leader needs before it serves writes: N − W. An acknowledged write is on W + 1
   * of the N replicas, so any N − W of them include at least one that has it
   * ((N − W) + (W + 1) = N + 1 > N), and the new leader can adopt it.
   */
  public static int promisesNeeded(int replicas, int writeQuorum) {
    return replicas - writeQuorum;
  }

  /** Whether a write needing {@code writeQuorum} follower acks can still succeed. */
  public static boolean reachable(int reachableFollowers, int writeQuorum) {
    return reachableFollowers >= writeQuorum;
  }

  /**
   * The highest index that the leader's replica and at least {@code writeQuorum} followers hold:
   * the W-th largest follower match index, capped by the leader's own.
   */
  public static long committedIndex(long leaderIndex, long[] followerMatchIndexes, int writeQuorum) {
    if (writeQuorum == 0) {
      return leaderIndex;
    }
    if (followerMatchIndexes.length < writeQuorum) {
      return 0;
    }
    long[] sorted = followerMatchIndexes.clone();
    Arrays.sort(sorted);
    long wthLargest = sorted[sorted.length - writeQuorum];
    return Math.min(leaderIndex, wthLargest);
  }
}
