package quorumkv.core;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Linearizable reads on a leader (Raft's read index, thesis §6.4): a read is served at the commit
 * index the leader had when the read arrived, once W followers have confirmed, after it arrived,
 * that they promised no newer term. A leader elected later needs N − W promises, which would
 * include one of those W + 1 replicas (the leader's own and W followers), so no newer leader can
 * have committed anything the read would miss. Reads that arrive while a round is in flight wait
 * for the next one, so one round serves any number of reads. Pure: the caller sends the
 * confirmation requests, keeps the round's timer and serves the released reads.
 *
 * @param <R> how the caller answers a read
 */
public final class ReadRounds<R> {
  /** A read waiting for a round; served at {@code readIndex} once its round is confirmed. */
  public record PendingRead<R>(R read, long readIndex) {}

  /** What the caller must do. */
  public interface Outbox<R> {
    /** Ask every follower to confirm the leader's term for {@code round}, and time the round out. */
    void askConfirmations(long round);

    /** Serve these reads, each at its read index. */
    void serve(List<PendingRead<R>> reads);

    /** These reads' round did not get {@code needed} confirmations in time ({@code got} did come). */
    void fail(List<PendingRead<R>> reads, int got, int needed);
  }

  private final int confirmationsNeeded;
  private final Outbox<R> outbox;
  private long round;
  private boolean inFlight;
  private final Set<String> confirmations = new HashSet<>();
  private List<PendingRead<R>> inRound = new ArrayList<>();
  private List<PendingRead<R>> waiting = new ArrayList<>();

  /** {@code confirmationsNeeded}: W, the followers a leader needs to rule out a newer one. */
  public ReadRounds(int confirmationsNeeded, Outbox<R> outbox) {
    this.confirmationsNeeded = confirmationsNeeded;
    this.outbox = outbox;
  }

  /** A linearizable read arrived while the commit index was {@code commitIndex}. */
  public void read(R read, long commitIndex) {
    if (confirmationsNeeded == 0) {
      // A new leader would need every node's promise, this one's too: none can exist meanwhile.
      outbox.serve(List.of(new PendingRead<>(read, commitIndex)));
      return;
    }
    waiting.add(new PendingRead<>(read, commitIndex));
    if (!inFlight) {
      startRound();
    }
  }

  /** {@code follower} confirmed that it knows no newer term, in answer to {@code confirmedRound}. */
  public void confirmed(String follower, long confirmedRound) {
    if (!inFlight || confirmedRound != round) {
      return;
    }
    confirmations.add(follower);
    if (confirmations.size() >= confirmationsNeeded) {
      List<PendingRead<R>> done = inRound;
      finishRound();
      outbox.serve(done);
    }
  }

  /** The round's time is up. */
  public void timedOut(long timedOutRound) {
    if (!inFlight || timedOutRound != round) {
      return;
    }
    List<PendingRead<R>> failed = inRound;
    int got = confirmations.size();
    finishRound();
    outbox.fail(failed, got, confirmationsNeeded);
  }

  /**
   * This node no longer leads: every read waiting here, in a round or for one, is handed back (to
   * be answered so that it can go to the next leader) and nothing is left to serve or fail.
   */
  public List<PendingRead<R>> abandon() {
    List<PendingRead<R>> all = new ArrayList<>(inRound);
    all.addAll(waiting);
    inFlight = false;
    confirmations.clear();
    inRound = new ArrayList<>();
    waiting = new ArrayList<>();
    return all;
  }

  private void startRound() {
    round++;
    inFlight = true;
    confirmations.clear();
    inRound = waiting;
    waiting = new ArrayList<>();
    outbox.askConfirmations(round);
  }

  private void finishRound() {
    inFlight = false;
    inRound = new ArrayList<>();
    if (!waiting.isEmpty()) {
      startRound();
    }
  }
}
