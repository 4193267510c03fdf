package quorumkv.core;

/**
 * What a replica last heard from a leader, and the rule that makes a live leader sticky (Raft
 * thesis §9.6): a replica that heard from a leader within the minimum election timeout grants no
 * pre-vote, so a node back from a partition, or one with a flaky link, cannot start an election
 * that would depose a leader the others still hear. Nor does it promise a term to another
 * candidate then, which is what the leader's read lease counts on ({@link LeaderLease}). Time comes
 * in as an argument.
 */
public final class LeaderContact {
  private final long minElectionTimeoutNanos;
  private long term;
  private String leader;
  private long atNanos;
  private long contacts;
  private boolean noLeaderInEarlierLives;

  public LeaderContact(long minElectionTimeoutNanos) {
    this.minElectionTimeoutNanos = minElectionTimeoutNanos;
  }

  /**
   * The replica has recovered: {@code promisedTerm} is the highest term it promised or accepted
   * in all its earlier lives. 0 means it never answered a leader (a replica writes a term to disk
   * before it answers the first message of that term's leader, and before it promises it).
   */
  public void recovered(long promisedTerm) {
    noLeaderInEarlierLives = promisedTerm == 0;
  }

  /** A message from the leader of {@code term} arrived and was not refused. */
  public void heard(long term, String leader, long nowNanos) {
    this.term = term;
    this.leader = leader;
    this.atNanos = nowNanos;
    contacts++;
  }

  /**
   * Whether to tell a candidate proposing {@code candidateTerm} that it could win: only if the term
   * is newer than any promised here and no leader was heard from recently.
   */
  public boolean grantsPreVote(long candidateTerm, long promisedTerm, long nowNanos, long joinedAtNanos) {
    return candidateTerm > promisedTerm && !recent(nowNanos) && settled(nowNanos, joinedAtNanos);
  }

  /**
   * Whether a new promise to {@code candidate} may be given now (the term check is the replica's):
   * not while a leader other than the candidate was heard from within the minimum election
   * timeout, nor before the node has been able to hear one for that long. A candidate got its
   * pre-votes under the same rule, but a replica may have heard the leader again since. The
   * candidate itself may have been that leader (it stepped down, or re-campaigns): it no longer
   * serves reads, so its lease needs no protecting.
   */
  public boolean grantsPromise(String candidate, long nowNanos, long joinedAtNanos) {
    return (!recent(nowNanos) || candidate.equals(leader)) && settled(nowNanos, joinedAtNanos);
  }

  /**
   * A replica that has not been able to hear a leader for a minimum election timeout yet (its
   * node has not joined, or has just joined: {@code joinedAtNanos} 0 or recent) has no reason to
   * think there is none, and helps nobody campaign. Otherwise nodes restarted together could elect
   * one of them while the leader lives (N − W of them are an election quorum), and a leader's lease
   * could count on answers they gave before they restarted and forgot that leader.
   *
   * <p>Except a replica that answered no leader before this life ({@link #recovered} with term 0:
   * a new cluster's): it is part of no leader's lease but through contacts this object remembers,
   * so it need not wait, and a new cluster's first election can follow its nodes' joining at
   * once rather than a timeout later. It has still to have joined (nobody could reach it before).
   */
  private boolean settled(long nowNanos, long joinedAtNanos) {
    return joinedAtNanos != 0 && (noLeaderInEarlierLives || nowNanos - joinedAtNanos >= minElectionTimeoutNanos);
  }

  public boolean recent(long nowNanos) {
    return contacts > 0 && nowNanos - atNanos < minElectionTimeoutNanos;
  }

  public long term() {
    return term;
  }

  /** The leader last heard from, or null. */
  public String leader() {
    return leader;
  }

  public long atNanos() {
    return atNanos;
  }

  /** How many times a leader was heard from: changes with every contact. */
  public long contacts() {
    return contacts;
  }
}
