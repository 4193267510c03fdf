package quorumkv.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A leader's replication for one term: what each replica holds and is sent, and the commit index.
 * Pure (etcd-io/raft's {@code tracker/progress.go} is the model): answers and ticks come in with
 * the time as an argument, messages go out through an {@link Outbox}; no Akka, no clock, no I/O.
 *
 * <p>Per replica the leader tracks the next index to send and the highest index known to match its
 * log durably ({@code match}). A replica is in one of three {@link Mode}s: {@code PROBE} (where its
 * log matches is not known: one message at a time until an answer says), {@code REPLICATE} (its
 * answers arrive: up to {@code maxInFlight} batches pipelined, each carrying everything appended
 * since the previous one) and {@code STATE_TRANSFER} (it needs entries the leader no longer
 * retains: it gets the leader replica's whole state first). An entry is committed once the
 * leader's own replica and W followers hold it; every message carries the commit index, and a
 * replica that has been sent everything but not the newest commit index is sent it at once (even
 * while its last entries are still in flight), so followers learn of a commit with the next
 * message rather than a tick or a round trip later.
 */
public final class Replication {

  /** The leader's retained log, as far as replication needs to see it. */
  public interface Log {
    long lastIndex();

    /** Whether the entry at {@code index} is retained (and can be sent). */
    boolean holds(long index);

    /** The term of the entry at {@code index}; 0 for index 0; -1 when not known any more. */
    long termAt(long index);
  }

  /** What the leader must send; the caller carries it out, in the order given. */
  public interface Outbox {
    /**
     * Send {@code replica} the entries from {@code from} on, as many as one message may carry
     * (at least one), after ({@code prevIndex}, {@code prevTerm}), with the commit index.
     *
     * @return the index of the last entry sent
     */
    long sendEntries(String replica, long prevIndex, long prevTerm, long from, long commitIndex);

    /** Send {@code replica} no entries: the commit index, and a check of its log at {@code prevIndex}. */
    void sendHeartbeat(String replica, long prevIndex, long prevTerm, long commitIndex);

    /**
     * {@code replica} needs entries the log no longer holds: fetch the leader replica's state and
     * pass it to {@link #stateReady} (or {@link #stateUnavailable}).
     */
    void fetchStateFor(String replica);

    /** {@code replica} holds the entries in ({@code fromExclusive}, {@code toInclusive}] durably. */
    void acknowledged(String replica, boolean local, long fromExclusive, long toInclusive);

    /** The commit index rose to {@code commitIndex}. */
    void committed(long commitIndex);
  }

  public enum Mode { PROBE, REPLICATE, STATE_TRANSFER }

  /** Timing and limits, in nanoseconds. */
  public record Limits(int writeQuorum, int maxInFlight, long heartbeatNanos, long resendAfterNanos) {
    public Limits {
      if (writeQuorum < 0 || maxInFlight < 1 || heartbeatNanos <= 0 || resendAfterNanos <= 0) {
        throw new IllegalArgumentException("bad replication limits: " + writeQuorum + ", " + maxInFlight + ", "
            + heartbeatNanos + ", " + resendAfterNanos);
      }
    }
  }

  /** What the leader knows of one replica, for status pages. */
  public record ProgressView(String replica, boolean local, Mode mode, long match, long next, int inFlight,
      long lastReplyNanos) {}

  /** Heartbeats sent to a replica that answers none: enough to survive a slow persist, few to a dead node. */
  static final int MAX_UNANSWERED_HEARTBEATS = 3;
  /** A state transfer may take a while to persist: it is given this many resend periods before starting over. */
  static final int STATE_TRANSFER_PATIENCE = 30;

  private static final class Progress {
    final String replica;
    final boolean local;
    Mode mode = Mode.PROBE;
    long next;
    long match;
    /** Messages with entries (or a state transfer) sent and not answered yet. */
    int inFlight;
    /**
     * What each unanswered message carried (true: entries), in send order: a replica answers its
     * messages in the order it gets them, so a heartbeat's answer never frees an entries slot.
     */
    final ArrayDeque<Boolean> unanswered = new ArrayDeque<>();
    long lastSendNanos;
    long lastReplyNanos;
    /** Whether it answered anything yet (lastReplyNanos starts at the time it was added). */
    boolean answered;
    /** The commit index the last message sent to it carried. */
    long sentCommit;
    /** The index of the state being transferred; answers below it are from before the transfer. */
    long transferIndex;
    boolean reachable = true;

    Progress(String replica, boolean local, long next, long nowNanos) {
      this.replica = replica;
      this.local = local;
      this.next = next;
      this.lastReplyNanos = nowNanos;
    }

    void forgetInFlight() {
      inFlight = 0;
      unanswered.clear();
    }
  }

  private final Log log;
  private final Outbox outbox;
  private final Limits limits;
  private final Map<String, Progress> replicas = new LinkedHashMap<>();
  private long commitIndex;
  private final long firstIndexOfTerm;

  /**
   * A new leader starts replicating with everything up to {@code commitIndex} known to be
   * committed; it knows nothing yet of where the replicas' logs stand. Entries from
   * {@code firstIndexOfTerm} on are this leader's own; those before it came from earlier leaders.
   */
  public Replication(long commitIndex, long firstIndexOfTerm, Log log, Limits limits, Outbox outbox) {
    this.commitIndex = commitIndex;
    this.firstIndexOfTerm = firstIndexOfTerm;
    this.log = log;
    this.limits = limits;
    this.outbox = outbox;
  }

  public long commitIndex() {
    return commitIndex;
  }

  /** A replica to replicate to (again: a known one restarted); it hears from the leader at once. */
  public void addReplica(String replica, boolean local, long nowNanos) {
    Progress p = new Progress(replica, local, log.lastIndex() + 1, nowNanos);
    replicas.put(replica, p);
    heartbeat(p, nowNanos);
  }

  public void removeReplica(String replica) {
    replicas.remove(replica);
  }

  /** Whether membership sees the replica's node: a state transfer to an unreachable one waits. */
  public void reachable(String replica, boolean reachable) {
    Progress p = replicas.get(replica);
    if (p != null) {
      p.reachable = reachable;
    }
  }

  /**
   * New entries were appended to the log: send them to every replica that can take more, this
   * node's own replica first. Its journal write then starts before the followers' messages are
   * serialized on the same threads; of one client's writes, about a third waited for the leader's
   * own journal write last.
   */
  public void appended(long nowNanos) {
    for (Progress p : replicas.values()) {
      if (p.local) {
        sendNewEntries(p, nowNanos);
      }
    }
    for (Progress p : replicas.values()) {
      if (!p.local) {
        sendNewEntries(p, nowNanos);
      }
    }
  }

  /** {@code replica} holds the log durably up to {@code matchIndex}, and it matches the leader's. */
  public void acked(String replica, long matchIndex, long nowNanos) {
    Progress p = replicas.get(replica);
    if (p == null) {
      return;
    }
    answered(p, nowNanos);
    if (p.mode == Mode.STATE_TRANSFER && matchIndex < p.transferIndex) {
      return; // an answer to something sent before the transfer
    }
    p.mode = Mode.REPLICATE;
    if (matchIndex > p.match) {
      long before = p.match;
      p.match = matchIndex;
      // The commit index goes to this node's own replica before the writes' clients hear of them,
      // so that a read on the leader's node after the answer finds them applied, and to the
      // followers right after: their messages are serialized on the threads that carry the
      // answers, which need not wait for them.
      boolean advanced = advanceCommitIndex();
      if (advanced) {
        sendCommit(true, nowNanos);
      }
      outbox.acknowledged(replica, p.local, before, matchIndex);
      if (advanced) {
        sendCommit(false, nowNanos);
      }
    }
    if (p.next <= p.match) {
      p.next = p.match + 1;
    }
    sendMore(p, nowNanos);
  }

  /**
   * {@code replica}'s log does not match at the index a message assumed; it holds a matching log
   * up to at most {@code hintIndex}: probe from there.
   */
  public void gap(String replica, long hintIndex, long nowNanos) {
    Progress p = replicas.get(replica);
    if (p == null) {
      return;
    }
    answered(p, nowNanos);
    if (hintIndex + 1 < p.next) {
      p.next = Math.max(hintIndex + 1, 1);
      p.mode = Mode.PROBE;
      if (p.inFlight == 0 && p.next > log.lastIndex()) {
        heartbeat(p, nowNanos); // the log matches nothing we can send: check the entry before our end
      }
    }
    sendMore(p, nowNanos);
  }

  /**
   * The periodic check: replicas that answered nothing for a while are probed afresh from what is
   * known to match (their messages were probably lost); idle ones get a heartbeat at least every
   * heartbeat interval, so they know the leader lives and learn the commit index.
   */
  public void tick(long nowNanos) {
    long resendAfter = limits.resendAfterNanos();
    for (Progress p : replicas.values()) {
      long patience = p.mode == Mode.STATE_TRANSFER ? STATE_TRANSFER_PATIENCE * resendAfter : resendAfter;
      boolean quiet = nowNanos - p.lastSendNanos > patience;
      boolean silent = quiet && nowNanos - p.lastReplyNanos > resendAfter;
      if (p.inFlight > 0 && silent) {
        p.forgetInFlight();
        p.mode = Mode.PROBE;
        p.next = p.match > 0 ? p.match + 1 : log.lastIndex() + 1;
        heartbeat(p, nowNanos);
      } else if (p.inFlight == 0 && p.mode != Mode.STATE_TRANSFER
          && nowNanos - p.lastSendNanos > limits.heartbeatNanos()) {
        if (p.unanswered.size() >= MAX_UNANSWERED_HEARTBEATS) {
          if (!silent) {
            continue; // a slow replica: no more heartbeats piling up in front of it
          }
          p.unanswered.clear(); // lost, or a restarted replica: start afresh
        }
        heartbeat(p, nowNanos);
      }
    }
  }

  /**
   * The leader replica's state at {@code appliedIndex} is ready to go to {@code replica}: true if
   * the caller should send it (the log continues from it), false if the state transfer is off.
   */
  public boolean stateReady(String replica, long appliedIndex, long nowNanos) {
    Progress p = replicas.get(replica);
    if (p == null || p.mode != Mode.STATE_TRANSFER) {
      return false;
    }
    if (!log.holds(appliedIndex + 1) && appliedIndex < log.lastIndex()) {
      // The leader's replica has not applied far enough for the log to continue from its state.
      stateUnavailable(replica);
      return false;
    }
    p.unanswered.add(true); // the answer to the last part frees the slot the transfer took
    p.lastSendNanos = nowNanos;
    p.transferIndex = appliedIndex;
    p.next = appliedIndex + 1;
    return true;
  }

  /** No state to transfer now: the next tick or answer tries again. */
  public void stateUnavailable(String replica) {
    Progress p = replicas.get(replica);
    if (p != null && p.mode == Mode.STATE_TRANSFER) {
      p.mode = Mode.PROBE;
      p.forgetInFlight();
    }
  }

  /** Whether {@code replica} has answered this leader, last within {@code windowNanos} before {@code nowNanos}. */
  public boolean answeredWithin(String replica, long nowNanos, long windowNanos) {
    Progress p = replicas.get(replica);
    return p != null && p.answered && nowNanos - p.lastReplyNanos <= windowNanos;
  }

  public List<ProgressView> progress() {
    List<ProgressView> out = new ArrayList<>();
    for (Progress p : replicas.values()) {
      out.add(new ProgressView(p.replica, p.local, p.mode, p.match, p.next, p.inFlight, p.lastReplyNanos));
    }
    return out;
  }

  // --- inside ---

  private void answered(Progress p, long nowNanos) {
    if (Boolean.TRUE.equals(p.unanswered.poll())) {
      p.inFlight = Math.max(0, p.inFlight - 1);
    }
    p.lastReplyNanos = nowNanos;
    p.answered = true;
  }

  /** After an answer: what the replica lacks, or else the commit index it has not been sent. */
  private void sendMore(Progress p, long nowNanos) {
    sendNewEntries(p, nowNanos);
    if (p.unanswered.isEmpty() && p.mode != Mode.STATE_TRANSFER && p.sentCommit < commitIndex) {
      // It answered after the entry committed (one of the slower followers): it learns the
      // commit index now, not with the next heartbeat.
      heartbeat(p, nowNanos);
    }
  }

  private int inFlightLimit(Progress p) {
    return p.mode == Mode.REPLICATE ? limits.maxInFlight() : 1;
  }

  /** Sends what the replica lacks, up to its in-flight limit; a state transfer if the log no longer has it. */
  private void sendNewEntries(Progress p, long nowNanos) {
    while (p.mode != Mode.STATE_TRANSFER && p.inFlight < inFlightLimit(p) && p.next <= log.lastIndex()) {
      long prev = p.next - 1;
      long prevTerm = log.termAt(prev);
      if (!log.holds(p.next) || prevTerm < 0) {
        startStateTransfer(p, nowNanos);
        return;
      }
      sent(p, true, nowNanos);
      long last = outbox.sendEntries(p.replica, prev, prevTerm, p.next, commitIndex);
      p.next = last + 1;
    }
  }

  private void startStateTransfer(Progress p, long nowNanos) {
    if (!p.reachable) {
      return; // the tick tries again once it is back
    }
    p.mode = Mode.STATE_TRANSFER;
    p.inFlight++;
    p.lastSendNanos = nowNanos;
    outbox.fetchStateFor(p.replica);
  }

  /** An empty message: carries the commit index, and the replica answers with where it stands. */
  private void heartbeat(Progress p, long nowNanos) {
    long prev = p.next - 1;
    long prevTerm = log.termAt(prev);
    if (prevTerm < 0 && prev > 0) {
      prev = p.match;
      prevTerm = Math.max(0, log.termAt(prev));
    }
    sent(p, false, nowNanos);
    outbox.sendHeartbeat(p.replica, prev, prevTerm, commitIndex);
  }

  private void sent(Progress p, boolean carriesEntries, long nowNanos) {
    if (carriesEntries) {
      p.inFlight++;
    }
    p.unanswered.add(carriesEntries);
    p.lastSendNanos = nowNanos;
    p.sentCommit = commitIndex;
  }

  /** Counts the acks: whether the commit index moved on. */
  private boolean advanceCommitIndex() {
    long leaderMatch = 0;
    long[] followers = new long[replicas.size()];
    int k = 0;
    for (Progress p : replicas.values()) {
      if (p.local) {
        leaderMatch = p.match;
      } else {
        followers[k++] = p.match;
      }
    }
    long committed = Quorum.committedIndex(leaderMatch, Arrays.copyOf(followers, k), limits.writeQuorum());
    if (committed <= commitIndex || committed < firstIndexOfTerm) {
      // An earlier leader's entry on W + 1 replicas may still be replaced on them (Raft §5.4.2,
      // Figure 8): only an entry of this term is committed by counting, and everything before it
      // with it.
      return false;
    }
    commitIndex = committed;
    outbox.committed(commitIndex);
    return true;
  }

  /**
   * Tells the new commit index to this node's own replica ({@code local}) or to the followers:
   * those with nothing more to be sent, now, in a message without entries; the others get it
   * with their next batch.
   */
  private void sendCommit(boolean local, long nowNanos) {
    for (Progress p : replicas.values()) {
      if (p.local == local && p.mode != Mode.STATE_TRANSFER && p.next > log.lastIndex() && p.sentCommit < commitIndex
          && (p.inFlight == 0 ? p.match >= p.next - 1 : mayQueueCommit(p))) {
        heartbeat(p, nowNanos);
      }
    }
  }

  /**
   * Whether a replica that still has entries in flight, and nothing more to be sent, is told the
   * commit index now rather than after it answers. It takes its messages in order, so the
   * heartbeat (checking the last entry sent) is handled right after those entries and costs no
   * extra journal write: the commit index would come alone after its answer anyway, one round trip
   * later (a slower follower then showed a write in local reads only after that round trip). A
   * replica with entries still to be sent gets the commit index with its next batch instead.
   */
  private boolean mayQueueCommit(Progress p) {
    return p.mode == Mode.REPLICATE && p.unanswered.size() - p.inFlight < MAX_UNANSWERED_HEARTBEATS;
  }
}
