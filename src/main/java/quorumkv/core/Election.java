package quorumkv.core;

import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.random.RandomGenerator;

/**
 * When one node campaigns, in which term, and whether it has won: the replicas elect the leader
 * among themselves (as in Raft, etcd and rqlite); cluster membership plays no part. Pure: ticks and
 * answers in, actions out; the caller sends the messages and keeps the time.
 *
 * <p>A follower that hears from no leader for a randomized election timeout asks every replica for
 * a pre-vote on the next term it may campaign in ({@link Terms}). A replica grants it only if that
 * term is newer than any it promised and it has not heard from a live leader within the minimum
 * election timeout ({@link LeaderContact}), so an isolated node cannot depose a working leader by
 * raising terms. With N − W pre-votes the node campaigns for real: it asks every replica for a
 * durable promise ({@link Campaign}); with N − W promises, its own among them, it adopts the most
 * complete log and leads. A round that does not finish within an election timeout starts over.
 */
public final class Election {
  public enum Role { FOLLOWER, PRE_CANDIDATE, CANDIDATE, ADOPTING, LEADER }

  /** Timeouts in ticks; the election timeout is drawn from [minTimeoutTicks, maxTimeoutTicks] each round. */
  public record Timing(int minTimeoutTicks, int maxTimeoutTicks) {
    public Timing {
      if (minTimeoutTicks < 1 || maxTimeoutTicks < minTimeoutTicks) {
        throw new IllegalArgumentException("need 1 <= min <= max election timeout ticks, got "
            + minTimeoutTicks + ".." + maxTimeoutTicks);
      }
    }
  }

  /** What the caller must do next. */
  public sealed interface Action {}

  public record Nothing() implements Action {}

  /** Ask every replica (this node's own included) whether it would promise {@code term}. */
  public record AskPreVotes(long term) implements Action {}

  /** Ask these replicas again, in the same round, whether they would promise {@code term}. */
  public record AskPreVotesAgain(long term, Set<String> replicas) implements Action {}

  /** Ask every replica for a durable promise of {@code term}; answers go to {@link #promised}. */
  public record StartCampaign(long term) implements Action {}

  /** This node led an older term than one now known: it must stop leading. */
  public record StepDown(long newerTerm) implements Action {}

  private static final Nothing NOTHING = new Nothing();

  /**
   * How often, in ticks, a pre-candidate asks again the replicas that refused for a reason that
   * passes (they heard a leader within the minimum election timeout, or their node had not joined
   * long enough: {@link LeaderContact}) rather than waiting for its next round. On a new cluster a
   * replica whose node had not yet seen itself join refused the first candidate that found it, and
   * the round then waited out its whole timeout (up to 2 s) for an answer that was yes 0.3 s later.
   */
  static final int ASK_AGAIN_EVERY_TICKS = 4;

  private final String node;
  private final int nodeIndex;
  private final int clusterSize;
  private final int promisesNeeded;
  private final Timing timing;
  private final RandomGenerator random;

  private Role role = Role.FOLLOWER;
  /** The highest term this node knows of. */
  private long term;
  private String leader;
  /** The term of {@code leader}: {@link #term} or, after a campaign that got nowhere, below it. */
  private long leaderTerm;
  private int ticks;
  private int timeoutTicks;
  private long proposedTerm;
  private final Set<String> preVotes = new HashSet<>();
  /** Replicas that refused this round's pre-vote, though not for a newer promise: asked again. */
  private final Set<String> refusedForNow = new HashSet<>();
  private Campaign campaign;

  public Election(String node, int nodeIndex, int clusterSize, int promisesNeeded, Timing timing,
      RandomGenerator random) {
    if (promisesNeeded < 1 || promisesNeeded > clusterSize) {
      throw new IllegalArgumentException("promises needed must be 1.." + clusterSize + ", got " + promisesNeeded);
    }
    this.node = node;
    this.nodeIndex = nodeIndex;
    this.clusterSize = clusterSize;
    this.promisesNeeded = promisesNeeded;
    this.timing = timing;
    this.random = random;
    this.timeoutTicks = drawTimeout();
  }

  public Action tick() {
    switch (role) {
      case FOLLOWER, PRE_CANDIDATE, CANDIDATE -> {
        if (++ticks >= timeoutTicks) {
          return askPreVotes();
        }
        if (role == Role.PRE_CANDIDATE && ticks % ASK_AGAIN_EVERY_TICKS == 0 && !refusedForNow.isEmpty()) {
          // Sorted, not Set.copyOf: that set's order changes from one JVM to the next, and the
          // simulations, which draw each message's delay in the order the messages are sent, gave
          // different results for the same seed.
          Set<String> again = Collections.unmodifiableSet(new TreeSet<>(refusedForNow));
          refusedForNow.clear();
          return new AskPreVotesAgain(proposedTerm, again);
        }
        return NOTHING;
      }
      default -> {
        return NOTHING;
      }
    }
  }

  /**
   * This node cannot hear anyone yet (it has not joined the cluster): a follower's election timeout
   * starts only once it could have heard a leader, so that nodes just (re)started do not elect one
   * among themselves while a leader is alive.
   */
  public void notReachableYet() {
    if (role == Role.FOLLOWER) {
      ticks = 0;
    }
  }

  /** This node's replica accepted a message from {@code leader}, the leader of {@code leaderTerm}. */
  public Action heardFromLeader(long leaderTerm, String leaderNode) {
    if (leaderNode.equals(node)) {
      return NOTHING;
    }
    if (leaderTerm < term) {
      if (role == Role.LEADER || role == Role.ADOPTING) {
        return NOTHING;
      }
      // This node's replica accepted the message, so it has promised no term above leaderTerm:
      // the newer term this node knows is one it only asked for (a campaign that got no promises,
      // e.g. while its replica was recovering) or saw asked for. Nothing makes that leader step
      // down, and its followers refuse this node pre-votes while they hear it: follow it, or this
      // node would campaign in vain forever and never know the leader. Its next campaign still
      // proposes a term above every one it knows.
      follow(leaderTerm, leaderNode);
      return NOTHING;
    }
    boolean newer = leaderTerm > term;
    term = leaderTerm;
    follow(leaderTerm, leaderNode);
    if (role == Role.LEADER && newer) {
      return new StepDown(leaderTerm);
    }
    return NOTHING;
  }

  private void follow(long leaderTerm, String leaderNode) {
    this.leaderTerm = leaderTerm;
    leader = leaderNode;
    ticks = 0;
    if (role != Role.FOLLOWER && role != Role.LEADER) {
      role = Role.FOLLOWER;
      timeoutTicks = drawTimeout();
      campaign = null;
      preVotes.clear();
      refusedForNow.clear();
    }
  }

  /** A term seen anywhere (a refusal, a replica's promise to someone else). */
  public Action observeTerm(long seen) {
    if (seen <= term) {
      return NOTHING;
    }
    term = seen;
    switch (role) {
      case LEADER -> {
        return new StepDown(seen);
      }
      case PRE_CANDIDATE, CANDIDATE, ADOPTING -> {
        // A newer term than this node knew exists: a rival is campaigning in it (or has won it).
        // A candidate's round is lost; a pre-candidate gives its round up too, even when the term it
        // asks for is higher still (terms are spaced by node, so a rival's next term can be lower
        // than ours): pressing on would depose that rival just after it won, as when a new
        // cluster's first leader was deposed half a second after every node was ready (etcd's
        // pre-candidate also follows any newer term). Follow, and campaign again (above it) only
        // after another election timeout without a leader.
        role = Role.FOLLOWER;
        leader = null;
        ticks = 0;
        timeoutTicks = drawTimeout();
        campaign = null;
        preVotes.clear();
        refusedForNow.clear();
      }
      case FOLLOWER -> {
        // Raft's rule (§5.2): a node that grants a candidate its vote waits a whole election
        // timeout before campaigning itself. A newer term seen here means its replica promised it
        // to a candidate, or a refusal named it: a campaign is under way. Without this, a follower
        // whose timeout was about to run out campaigned just after its replica had promised the
        // term, and deposed the leader that promise helped make (simulated new clusters: 83 of 400
        // elected twice, 43 with this rule; a leader crash was followed by two elections in 68 of
        // 400, 29 with it, and the next leader came 33.8 rather than 27.7 ticks after the crash).
        ticks = 0;
        timeoutTicks = drawTimeout();
      }
      default -> { }
    }
    return NOTHING;
  }

  /** A replica's answer to {@link AskPreVotes}. */
  public Action preVoteAnswered(String replica, long forTerm, boolean granted, long promisedTerm) {
    Action seen = observeTerm(promisedTerm);
    if (role != Role.PRE_CANDIDATE || forTerm != proposedTerm) {
      return seen;
    }
    if (!granted) {
      if (promisedTerm < proposedTerm && !preVotes.contains(replica)) {
        refusedForNow.add(replica);
      }
      return seen;
    }
    refusedForNow.remove(replica);
    preVotes.add(replica);
    if (preVotes.size() < promisesNeeded) {
      return NOTHING;
    }
    role = Role.CANDIDATE;
    term = Math.max(term, proposedTerm);
    ticks = 0;
    campaign = new Campaign(proposedTerm, node, promisesNeeded);
    return new StartCampaign(proposedTerm);
  }

  /** A durable promise for the campaign's term; true once the campaign is won and the log must be adopted. */
  public boolean promised(long forTerm, Campaign.Promise promise) {
    if (role != Role.CANDIDATE || campaign == null || forTerm != campaign.term()) {
      return false;
    }
    if (campaign.add(promise)) {
      role = Role.ADOPTING;
      return true;
    }
    return false;
  }

  /** The adopted log is in place: this node leads its campaign's term. */
  public void becameLeader() {
    if (role != Role.ADOPTING) {
      throw new IllegalStateException("cannot lead from " + role);
    }
    role = Role.LEADER;
    leader = node;
  }

  /** Adopting the log failed (a replica left, a fetch failed): campaign again in a newer term. */
  public Action adoptionFailed() {
    return askPreVotes();
  }

  private Action askPreVotes() {
    role = Role.PRE_CANDIDATE;
    leader = null;
    ticks = 0;
    timeoutTicks = drawTimeout();
    campaign = null;
    preVotes.clear();
    refusedForNow.clear();
    proposedTerm = Terms.next(term, nodeIndex, clusterSize);
    return new AskPreVotes(proposedTerm);
  }

  private int drawTimeout() {
    return timing.minTimeoutTicks() + random.nextInt(timing.maxTimeoutTicks() - timing.minTimeoutTicks() + 1);
  }

  public Role role() {
    return role;
  }

  public long term() {
    return term;
  }

  /** The leader this node follows (itself when leading), or null while none is known. */
  /** The term of the leader this node follows (see {@link #leader}). */
  public long leaderTerm() {
    return leaderTerm;
  }

  public String leader() {
    return leader;
  }

  /** The campaign in progress or won; null when not campaigning. */
  public Campaign campaign() {
    return campaign;
  }

  public int preVotes() {
    return preVotes.size();
  }

  public long proposedTerm() {
    return proposedTerm;
  }

  public int promisesNeeded() {
    return promisesNeeded;
  }
}
