package quorumkv.core;

import java.util.HashSet;
import java.util.Set;

/**
 * The acknowledgements one write waits for: the leader's own durable write and {@code quorum} of
 * the followers that were reachable when it was logged (W, or the request's {@code ?w=}). The
 * leader keeps one per write it has not answered yet and feeds it from its commit bookkeeping (one
 * range of indexes per replica answer), so a write's {@code QuorumAggregator} hears only the
 * outcome, not every ack. Pure.
 */
public final class WriteAcks {
  public enum Outcome {
    /** Not decided yet. */
    WAITING,
    /** The leader's replica and {@code quorum} followers hold the write. */
    REACHED,
    /** Too few of the awaited followers are left to make the quorum. */
    OUT_OF_REACH,
    /** Its time ran out first. */
    TIMED_OUT
  }

  private final int quorum;
  private final Set<String> awaited;
  private int acks;
  private boolean leaderDurable;
  private Outcome outcome = Outcome.WAITING;

  public WriteAcks(int quorum, Set<String> awaitedFollowers) {
    this.quorum = quorum;
    this.awaited = new HashSet<>(awaitedFollowers);
  }

  /** The leader's own replica holds the write on disk. */
  public Outcome leaderDurable() {
    leaderDurable = true;
    return decide();
  }

  /** {@code follower} holds the write on disk; only followers awaited when it was logged count, each once. */
  public Outcome followerAcked(String follower) {
    if (awaited.remove(follower)) {
      acks++;
    }
    return decide();
  }

  /** {@code follower} stopped or left before it answered (one that already holds the write still counts). */
  public Outcome followerLost(String follower) {
    if (outcome == Outcome.WAITING && awaited.remove(follower) && acks + awaited.size() < quorum) {
      outcome = Outcome.OUT_OF_REACH;
    }
    return outcome;
  }

  /** The write's time is up: true if that decides it (it was still waiting). */
  public boolean timedOut() {
    if (outcome != Outcome.WAITING) {
      return false;
    }
    outcome = Outcome.TIMED_OUT;
    return true;
  }

  private Outcome decide() {
    if (outcome == Outcome.WAITING && leaderDurable && acks >= quorum) {
      outcome = Outcome.REACHED;
    }
    return outcome;
  }

  public Outcome outcome() {
    return outcome;
  }

  /** Follower acks so far. */
  public int acks() {
    return acks;
  }

  /** Awaited followers that neither answered nor were lost. */
  public int awaitedLeft() {
    return awaited.size();
  }

  public boolean isLeaderDurable() {
    return leaderDurable;
  }
}
