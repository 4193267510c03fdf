package quorumkv.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** The leader's per-replica progress and commit index, driven message by message. */
public class ReplicationTest {
  private static final long MS = 1_000_000L;
  private static final long HEARTBEAT = 150 * MS;
  private static final long RESEND = 1000 * MS;
  private static final long TERM = 7;

  /** A log of entries all in {@link #TERM}, retained from {@code first} on. */
  private static final class FakeLog implements Replication.Log {
    long first = 1;
    long last;

    @Override
    public long lastIndex() {
      return last;
    }

    @Override
    public boolean holds(long index) {
      return index >= first && index <= last;
    }

    @Override
    public long termAt(long index) {
      return index == 0 ? 0 : index >= first - 1 && index <= last ? TERM : -1;
    }
  }

  /** What the core sent, as text: "entries node1 prev=0 from=1 to=3 commit=0", "heartbeat node2 prev=3 commit=3"... */
  private static final class Recorder implements Replication.Outbox {
    final FakeLog log;
    final int maxBatch;
    final List<String> sent = new ArrayList<>();
    final List<String> acknowledged = new ArrayList<>();
    final List<Long> commits = new ArrayList<>();
    /** What was sent and acknowledged, in the order the core did it. */
    final List<String> events = new ArrayList<>();

    Recorder(FakeLog log, int maxBatch) {
      this.log = log;
      this.maxBatch = maxBatch;
    }

    @Override
    public long sendEntries(String replica, long prevIndex, long prevTerm, long from, long commitIndex) {
      long to = Math.min(log.last, from + maxBatch - 1);
      sent.add("entries " + replica + " prev=" + prevIndex + " from=" + from + " to=" + to + " commit=" + commitIndex);
      events.add(sent.get(sent.size() - 1));
      return to;
    }

    @Override
    public void sendHeartbeat(String replica, long prevIndex, long prevTerm, long commitIndex) {
      sent.add("heartbeat " + replica + " prev=" + prevIndex + " commit=" + commitIndex);
      events.add(sent.get(sent.size() - 1));
    }

    @Override
    public void fetchStateFor(String replica) {
      sent.add("state " + replica);
    }

    @Override
    public void acknowledged(String replica, boolean local, long fromExclusive, long toInclusive) {
      acknowledged.add(replica + " " + fromExclusive + ".." + toInclusive);
      events.add("acknowledged " + acknowledged.get(acknowledged.size() - 1));
    }

    @Override
    public void committed(long commitIndex) {
      commits.add(commitIndex);
    }

    List<String> drain() {
      List<String> out = List.copyOf(sent);
      sent.clear();
      return out;
    }
  }

  private final FakeLog log = new FakeLog();

  private Replication leader(Recorder out, int writeQuorum, int maxInFlight, int followers) {
    Replication r = new Replication(0, 1, log,
        new Replication.Limits(writeQuorum, maxInFlight, HEARTBEAT, RESEND), out);
    r.addReplica("node0", true, 0);
    for (int i = 1; i <= followers; i++) {
      r.addReplica("node" + i, false, 0);
    }
    return r;
  }

  private Replication.ProgressView progressOf(Replication r, String replica) {
    return r.progress().stream().filter(p -> p.replica().equals(replica)).findFirst().orElseThrow();
  }

  @Test
  public void aNewLeaderHeartbeatsEveryReplicaAtOnce() {
    Recorder out = new Recorder(log, 100);
    leader(out, 2, 1, 3);
    assertEquals(List.of("heartbeat node0 prev=0 commit=0", "heartbeat node1 prev=0 commit=0",
        "heartbeat node2 prev=0 commit=0", "heartbeat node3 prev=0 commit=0"), out.drain());
  }

  @Test
  public void anEntryCommitsOnceTheLeadersReplicaAndWFollowersHoldIt() {
    Recorder out = new Recorder(log, 100);
    Replication r = leader(out, 2, 1, 3);
    for (String n : List.of("node0", "node1", "node2", "node3")) {
      r.acked(n, 0, 1); // the heartbeats' answers: every log matches at 0
    }
    out.drain();
    log.last = 3;
    r.appended(2);
    assertEquals(List.of("entries node0 prev=0 from=1 to=3 commit=0", "entries node1 prev=0 from=1 to=3 commit=0",
        "entries node2 prev=0 from=1 to=3 commit=0", "entries node3 prev=0 from=1 to=3 commit=0"), out.drain());
    r.acked("node1", 3, 3);
    r.acked("node2", 3, 3);
    assertEquals("two followers without the leader's own replica commit nothing", 0, r.commitIndex());
    r.acked("node0", 3, 4);
    assertEquals(3, r.commitIndex());
    assertEquals(List.of(3L), out.commits);
    assertEquals(List.of("node1 0..3", "node2 0..3", "node0 0..3"), out.acknowledged);
  }

  @Test
  public void theLeadersOwnReplicaHearsFirstAndTheFollowersOfACommitOnlyAfterTheAnswers() {
    Recorder out = new Recorder(log, 100);
    Replication r = new Replication(0, 1, log, new Replication.Limits(2, 1, HEARTBEAT, RESEND), out);
    r.addReplica("node1", false, 0);
    r.addReplica("node2", false, 0);
    r.addReplica("node0", true, 0); // the leader's own replica, listed after the followers
    for (String n : List.of("node0", "node1", "node2")) {
      r.acked(n, 0, 1);
    }
    out.drain();
    log.last = 1;
    r.appended(2);
    assertEquals("its journal write starts before the followers' messages are serialized",
        List.of("entries node0 prev=0 from=1 to=1 commit=0", "entries node1 prev=0 from=1 to=1 commit=0",
            "entries node2 prev=0 from=1 to=1 commit=0"), out.drain());
    r.acked("node0", 1, 3);
    r.acked("node1", 1, 3);
    out.events.clear();
    r.acked("node2", 1, 4); // W=2: committed now
    assertEquals(1, r.commitIndex());
    assertEquals("the leader's replica before any answer, the followers after them",
        List.of("heartbeat node0 prev=1 commit=1", "acknowledged node2 0..1", "heartbeat node1 prev=1 commit=1",
            "heartbeat node2 prev=1 commit=1"), out.events);
  }

  /** W=1, node1 and node2 matching at 0, entry 1 appended and sent to every replica. */
  private Replication entryOneSentToTwoFollowers(Recorder out) {
    Replication r = leader(out, 1, 1, 2);
    for (String n : List.of("node0", "node1", "node2")) {
      r.acked(n, 0, 1);
    }
    log.last = 1;
    r.appended(2);
    return r;
  }

  @Test
  public void everyReplicaLearnsTheCommitIndexAtOnceEvenWithItsLastEntriesInFlight() {
    Recorder out = new Recorder(log, 100);
    Replication r = entryOneSentToTwoFollowers(out);
    r.acked("node0", 1, 3);
    out.drain();
    r.acked("node1", 1, 3);
    // committed: node0 and node1 are idle; node2 still has the entry in flight and is told too,
    // behind that entry, rather than one round trip after it answers.
    assertEquals(List.of("heartbeat node0 prev=1 commit=1", "heartbeat node1 prev=1 commit=1",
        "heartbeat node2 prev=1 commit=1"), out.drain());
    r.acked("node2", 1, 4);
    assertEquals("its answer to the entry asks for nothing more", List.of(), out.drain());
    assertEquals(1, progressOf(r, "node2").match());
    assertEquals("the heartbeat's answer frees no entries slot", 0, progressOf(r, "node2").inFlight());
    log.last = 2;
    r.appended(5);
    assertTrue(out.drain().contains("entries node2 prev=1 from=2 to=2 commit=1"));
  }

  @Test
  public void aReplicaWithEntriesStillToBeSentLearnsTheCommitIndexWithItsNextBatch() {
    Recorder out = new Recorder(log, 100);
    Replication r = entryOneSentToTwoFollowers(out);
    log.last = 2;
    r.appended(2); // entry 2 waits: every replica has entry 1 in flight (one message at a time)
    r.acked("node0", 1, 3);
    out.drain();
    r.acked("node1", 1, 3);
    List<String> sent = out.drain();
    assertTrue(sent.contains("entries node1 prev=1 from=2 to=2 commit=1"));
    assertFalse("no separate message for node2: entry 2 will carry the commit index",
        sent.stream().anyMatch(m -> m.contains("node2")));
    r.acked("node2", 1, 4);
    assertEquals(List.of("entries node2 prev=1 from=2 to=2 commit=1"), out.drain());
  }

  @Test
  public void aGapMakesTheLeaderProbeBackFromTheReplicasHint() {
    Recorder out = new Recorder(log, 100);
    log.last = 5;
    Replication r = leader(out, 1, 4, 1);
    out.drain();
    r.gap("node1", 2, 1); // the heartbeat assumed index 5; node1 matches up to 2
    assertEquals(List.of("entries node1 prev=2 from=3 to=5 commit=0"), out.drain());
    assertEquals(Replication.Mode.PROBE, progressOf(r, "node1").mode());
    r.acked("node1", 5, 2);
    assertEquals(Replication.Mode.REPLICATE, progressOf(r, "node1").mode());
    assertEquals(5, progressOf(r, "node1").match());
  }

  @Test
  public void aProbedReplicaGetsOneMessageAtATimeAndAReplicatingOnePipelines() {
    Recorder out = new Recorder(log, 2);
    Replication r = leader(out, 1, 3, 1);
    out.drain();
    log.last = 10;
    r.appended(1);
    assertEquals("probing: one message until an answer says where its log stands",
        List.of("entries node1 prev=0 from=1 to=2 commit=0"), only("node1", out));
    r.acked("node1", 0, 2); // the first heartbeat's answer: its log matches
    assertEquals(Replication.Mode.REPLICATE, progressOf(r, "node1").mode());
    assertEquals("replicating: up to 3 messages in flight",
        List.of("entries node1 prev=2 from=3 to=4 commit=0", "entries node1 prev=4 from=5 to=6 commit=0"),
        only("node1", out));
    assertEquals(3, progressOf(r, "node1").inFlight());
    r.acked("node1", 2, 3);
    assertEquals(List.of("entries node1 prev=6 from=7 to=8 commit=0"), only("node1", out));
  }

  /** What was sent to {@code replica} since the last drain (the rest is dropped). */
  private static List<String> only(String replica, Recorder out) {
    return out.drain().stream().filter(s -> s.contains(" " + replica + " ") || s.endsWith(" " + replica)).toList();
  }

  @Test
  public void aReplicaBehindTheRetainedLogGetsTheStateAndAnswersFromBeforeItAreIgnored() {
    Recorder out = new Recorder(log, 100);
    log.first = 6;
    log.last = 10;
    Replication r = leader(out, 1, 1, 1);
    out.drain();
    r.gap("node1", 2, 1);
    assertEquals(List.of("state node1"), out.drain());
    assertEquals(Replication.Mode.STATE_TRANSFER, progressOf(r, "node1").mode());
    assertTrue(r.stateReady("node1", 8, 2));
    r.acked("node1", 3, 3); // an answer to something sent before the transfer
    assertEquals(Replication.Mode.STATE_TRANSFER, progressOf(r, "node1").mode());
    assertEquals(List.of(), out.drain());
    r.acked("node1", 8, 4);
    assertEquals(Replication.Mode.REPLICATE, progressOf(r, "node1").mode());
    assertEquals(List.of("entries node1 prev=8 from=9 to=10 commit=0"), out.drain());
  }

  @Test
  public void aStateThatTheLogCannotContinueIsNotSent() {
    Recorder out = new Recorder(log, 100);
    log.first = 6;
    log.last = 10;
    Replication r = leader(out, 1, 1, 1);
    r.gap("node1", 2, 1);
    assertFalse("the leader's replica applied only up to 3; the log holds 6..10", r.stateReady("node1", 3, 2));
    assertEquals(Replication.Mode.PROBE, progressOf(r, "node1").mode());
    assertEquals(0, progressOf(r, "node1").inFlight());
  }

  @Test
  public void noStateTransferStartsWhileTheReplicaIsUnreachable() {
    Recorder out = new Recorder(log, 100);
    log.first = 6;
    log.last = 10;
    Replication r = leader(out, 1, 1, 1);
    r.reachable("node1", false);
    out.drain();
    r.gap("node1", 2, 1);
    assertEquals(List.of(), out.drain());
    r.reachable("node1", true);
    r.tick(1 + HEARTBEAT + 1);
    r.gap("node1", 2, 1 + HEARTBEAT + 2);
    // The log holds nothing after 2 to check: the heartbeat checks what is known to match (0).
    assertEquals(List.of("heartbeat node1 prev=0 commit=0", "state node1"),
        only("node1", out));
  }

  @Test
  public void aReplicaSilentForTheResendPeriodIsProbedAfreshFromWhatMatches() {
    Recorder out = new Recorder(log, 100);
    Replication r = leader(out, 1, 1, 1);
    r.acked("node1", 0, 1);
    log.last = 2;
    r.appended(2);
    r.acked("node1", 2, 3);
    log.last = 4;
    r.appended(4);
    out.drain();
    r.tick(4 + RESEND / 2);
    assertEquals("entries in flight, not silent for long yet", List.of(), only("node1", out));
    r.tick(4 + RESEND + 1);
    assertEquals(List.of("heartbeat node1 prev=2 commit=0"),
        only("node1", out));
    assertEquals(Replication.Mode.PROBE, progressOf(r, "node1").mode());
    assertEquals(3, progressOf(r, "node1").next());
  }

  @Test
  public void heartbeatsDoNotPileUpInFrontOfASlowReplica() {
    Recorder out = new Recorder(log, 100);
    Replication r = leader(out, 1, 1, 1);
    out.drain();
    long now = 0;
    int heartbeats = 0;
    for (int i = 0; i < 6; i++) { // 6 heartbeat periods, under the resend period: slow, not silent
      now += HEARTBEAT + 1;
      r.tick(now);
      heartbeats += (int) out.drain().stream().filter(s -> s.startsWith("heartbeat node1")).count();
    }
    assertEquals("the first heartbeat and two more, then none until it answers", 2, heartbeats);
    r.acked("node1", 0, now);
    now += HEARTBEAT + 1;
    r.tick(now);
    assertTrue(out.drain().contains("heartbeat node1 prev=0 commit=0"));
  }
}
