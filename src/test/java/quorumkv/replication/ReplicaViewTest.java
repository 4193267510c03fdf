package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.Test;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;

/** Reads that wait for an index: answered by the publish that reaches it, never missed. */
public class ReplicaViewTest {
  /** States 0..n, each applying one more entry. */
  private static List<ReplicaState> states(int n) {
    List<ReplicaState> out = new ArrayList<>();
    ReplicaState s = ReplicaState.empty();
    out.add(s);
    for (int i = 1; i <= n; i++) {
      s = s.append(1, i - 1, List.of(new LogEntry(i, 1, "k", "v" + i)), i, 100);
      out.add(s);
    }
    return out;
  }

  @Test
  public void aWaitingReadIsAnsweredByThePublishThatReachesItsIndex() {
    List<ReplicaState> s = states(3);
    ReplicaView view = new ReplicaView("node1");
    view.publish(s.get(1));
    assertTrue("already applied: answered at once", view.awaitApplied(1).orElseThrow().isDone());
    CompletableFuture<ReplicaState> three = view.awaitApplied(3).orElseThrow();
    view.publish(s.get(2));
    assertFalse(three.isDone());
    view.publish(s.get(3));
    assertEquals(3, three.join().appliedIndex());
  }

  /**
   * One thread publishes index after index while another waits for each next index just as it is
   * published, as a client does that reads its own write on a follower: every wait must end with
   * that publish. A wait registered just after the publish's look at the waiters, and checking the
   * state just before it changed, was missed (the read waited out its timeout with the index
   * applied: seen with VisibilityBench, "applied index 6698, not yet 6698").
   */
  @Test
  public void aWaitRegisteredWhileTheIndexIsPublishedIsNeverMissed() throws Exception {
    int rounds = 200_000;
    List<ReplicaState> s = states(rounds);
    ReplicaView view = new ReplicaView("node1");
    view.publish(s.get(0));
    AtomicLong round = new AtomicLong();
    Thread publisher = new Thread(() -> {
      for (int i = 1; i <= rounds; i++) {
        while (round.get() < i) {
          Thread.onSpinWait();
        }
        view.publish(s.get(i));
      }
    });
    publisher.setDaemon(true);
    publisher.start();
    try {
      for (int i = 1; i <= rounds; i++) {
        round.set(i); // the publisher publishes index i now, while this thread waits for it
        CompletableFuture<ReplicaState> until = view.awaitApplied(i).orElseThrow();
        // Nothing else is published until the next round: a missed wait never completes.
        ReplicaState answered = until.get(5, TimeUnit.SECONDS);
        assertEquals(i, answered.appliedIndex());
      }
    } finally {
      publisher.interrupt();
    }
  }

  @Test
  public void moreWaitersThanTheBoundAreRefusedUnlessTheIndexIsApplied() {
    List<ReplicaState> s = states(1);
    ReplicaView view = new ReplicaView("node1");
    view.publish(s.get(0));
    for (int i = 0; i < ReplicaView.MAX_WAITING; i++) {
      assertTrue(view.awaitApplied(1).isPresent());
    }
    assertTrue("full", view.awaitApplied(1).isEmpty());
    view.publish(s.get(1));
    assertTrue("applied: answered without waiting", view.awaitApplied(1).orElseThrow().isDone());
  }
}
