package quorumkv.core;

import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** Linearizable read rounds: each read is served at the commit index it arrived at, after W confirmations. */
public class ReadRoundsTest {
  private final List<String> events = new ArrayList<>();

  private final ReadRounds.Outbox<String> outbox = new ReadRounds.Outbox<>() {
    @Override
    public void askConfirmations(long round) {
      events.add("ask " + round);
    }

    @Override
    public void serve(List<ReadRounds.PendingRead<String>> reads) {
      reads.forEach(r -> events.add("serve " + r.read() + "@" + r.readIndex()));
    }

    @Override
    public void fail(List<ReadRounds.PendingRead<String>> reads, int got, int needed) {
      reads.forEach(r -> events.add("fail " + r.read() + " " + got + "/" + needed));
    }
  };

  @Test
  public void aLeaderThatStepsDownHandsBackEveryWaitingReadAndServesNoneOfThemLater() {
    ReadRounds<String> rounds = new ReadRounds<>(2, outbox);
    rounds.read("a", 10);
    rounds.read("b", 11);
    List<String> handedBack = new ArrayList<>();
    rounds.abandon().forEach(r -> handedBack.add(r.read() + "@" + r.readIndex()));
    assertEquals(List.of("a@10", "b@11"), handedBack);
    rounds.confirmed("node1", 1);
    rounds.confirmed("node2", 1);
    rounds.timedOut(1);
    assertEquals("nothing served or failed after abandoning", List.of("ask 1"), events);
    assertEquals(List.of(), rounds.abandon());
  }

  @Test
  public void readsArrivingDuringARoundWaitForTheNextOneAndKeepTheirReadIndex() {
    ReadRounds<String> rounds = new ReadRounds<>(2, outbox);
    rounds.read("a", 10);
    rounds.read("b", 11); // arrived after round 1 was asked: round 1 cannot vouch for it
    rounds.confirmed("node1", 1);
    assertEquals(List.of("ask 1"), events);
    rounds.confirmed("node1", 1); // the same follower twice counts once
    assertEquals(List.of("ask 1"), events);
    rounds.confirmed("node2", 1);
    assertEquals(List.of("ask 1", "ask 2", "serve a@10"), events);
    rounds.confirmed("node3", 1); // late, for a finished round
    rounds.confirmed("node3", 2);
    rounds.confirmed("node4", 2);
    assertEquals(List.of("ask 1", "ask 2", "serve a@10", "serve b@11"), events);
  }

  @Test
  public void aRoundWithoutWConfirmationsInTimeFailsOnlyItsOwnReads() {
    ReadRounds<String> rounds = new ReadRounds<>(3, outbox);
    rounds.read("a", 5);
    rounds.read("b", 6);
    rounds.confirmed("node1", 1);
    rounds.timedOut(1);
    assertEquals(List.of("ask 1", "ask 2", "fail a 1/3"), events);
    rounds.timedOut(1); // a stale timer
    assertEquals(3, events.size());
    for (String follower : List.of("node1", "node2", "node3")) {
      rounds.confirmed(follower, 2);
    }
    assertEquals("serve b@6", events.get(3));
  }

  @Test
  public void withWZeroNoNewerLeaderCanExistAndReadsAreServedAtOnce() {
    ReadRounds<String> rounds = new ReadRounds<>(0, outbox);
    rounds.read("a", 3);
    assertEquals(List.of("serve a@3"), events);
  }
}
