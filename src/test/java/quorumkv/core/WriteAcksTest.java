package quorumkv.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.Set;
import org.junit.Test;

/** One write's acknowledgements, as the leader counts them. */
public class WriteAcksTest {
  private static final Set<String> FIVE = Set.of("node1", "node2", "node3", "node4", "node5");

  @Test
  public void reachedAtTheWthAckWithoutWaitingForTheRest() {
    WriteAcks w = new WriteAcks(3, FIVE);
    assertEquals(WriteAcks.Outcome.WAITING, w.leaderDurable());
    assertEquals(WriteAcks.Outcome.WAITING, w.followerAcked("node1"));
    assertEquals(WriteAcks.Outcome.WAITING, w.followerAcked("node2"));
    assertEquals(WriteAcks.Outcome.REACHED, w.followerAcked("node3"));
    assertEquals(3, w.acks());
  }

  @Test
  public void waitsForTheLeadersOwnDurableWriteAndReportsEveryAckSeen() {
    WriteAcks w = new WriteAcks(2, FIVE);
    w.followerAcked("node4");
    w.followerAcked("node5");
    assertEquals(WriteAcks.Outcome.WAITING, w.followerAcked("node1"));
    assertEquals(WriteAcks.Outcome.REACHED, w.leaderDurable());
    assertEquals(3, w.acks());
  }

  @Test
  public void duplicateAcksAndAcksOfFollowersNotAwaitedDoNotCount() {
    WriteAcks w = new WriteAcks(2, Set.of("node1", "node2"));
    w.leaderDurable();
    w.followerAcked("node1");
    w.followerAcked("node1");
    assertEquals("node3 was unreachable when the write was logged", WriteAcks.Outcome.WAITING, w.followerAcked("node3"));
    assertEquals(1, w.acks());
    assertTrue(w.timedOut());
    assertEquals(WriteAcks.Outcome.TIMED_OUT, w.outcome());
    assertEquals("decided: a late ack changes nothing", WriteAcks.Outcome.TIMED_OUT, w.followerAcked("node2"));
  }

  @Test
  public void losingAwaitedFollowersDecidesOnceTheQuorumIsOutOfReach() {
    WriteAcks w = new WriteAcks(4, FIVE);
    w.leaderDurable();
    w.followerAcked("node1");
    assertEquals("1 acked + 3 awaited: still possible", WriteAcks.Outcome.WAITING, w.followerLost("node2"));
    assertEquals("1 acked + 2 awaited < 4", WriteAcks.Outcome.OUT_OF_REACH, w.followerLost("node3"));
    assertEquals(2, w.awaitedLeft());
    assertFalse("decided: the timeout does not decide it again", w.timedOut());
  }

  @Test
  public void aFollowerLostAfterItAckedStillCounts() {
    WriteAcks w = new WriteAcks(2, FIVE);
    w.followerAcked("node1");
    assertEquals(WriteAcks.Outcome.WAITING, w.followerLost("node1"));
    w.leaderDurable();
    assertEquals(WriteAcks.Outcome.REACHED, w.followerAcked("node2"));
    assertEquals(2, w.acks());
  }
}
