package quorumkv.core;

/**
 * Terms unique to their candidate (Flexible Paxos's unique ballots). Election quorums of N − W
 * need not intersect (3 + 3 = 6 for N = 6, W = 3), so two candidates could both gather promises
 * for the same term; then two leaders could write different entries at the same (term, index) on
 * disjoint replicas. Node {@code i} of N therefore only ever campaigns in terms ≡ i (mod N): a
 * term has exactly one possible leader, and (term, index) names one entry.
 */
public final class Terms {
  private Terms() {}

  /** The smallest term above {@code after} that node {@code nodeIndex} of {@code clusterSize} may campaign in. */
  public static long next(long after, int nodeIndex, int clusterSize) {
    if (nodeIndex < 0 || nodeIndex >= clusterSize) {
      throw new IllegalArgumentException("node index " + nodeIndex + " is not in 0.." + (clusterSize - 1));
    }
    long base = Math.max(after, 0) + 1;
    long offset = Math.floorMod(nodeIndex - base, (long) clusterSize);
    return base + offset;
  }

  /** The only node that may lead {@code term}. */
  public static int owner(long term, int clusterSize) {
    return (int) Math.floorMod(term, (long) clusterSize);
  }
}
