package quorumkv.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class LeaderLeaseTest {
  private static final long LEASE = 900;

  @Test
  public void holdsOnlyOnceTheLeadersReplicaAndWFollowersAnswered() {
    LeaderLease lease = new LeaderLease("node0", 3, LEASE);
    assertFalse(lease.holds(0));
    lease.answered("node1", 100);
    lease.answered("node2", 100);
    lease.answered("node3", 100);
    assertFalse("the leader's own replica has not answered", lease.holds(150));
    lease.answered("node0", 100);
    assertTrue(lease.holds(150));
  }

  @Test
  public void runsFromTheSendTimeOfTheWthFreshestFollowerAnswer() {
    LeaderLease lease = new LeaderLease("node0", 2, LEASE);
    lease.answered("node0", 500);
    lease.answered("node1", 400);
    lease.answered("node2", 100);
    lease.answered("node3", 300);
    // The second freshest follower answer was sent at 300: the lease runs to 1200.
    assertTrue(lease.holds(1199));
    assertEquals(1, lease.remainingNanos(1199));
    assertFalse(lease.holds(1200));
    assertEquals(0, lease.remainingNanos(1200));
    lease.answered("node2", 1000); // renewed
    assertTrue(lease.holds(1299));
    assertFalse(lease.holds(1300));
  }

  @Test
  public void anOlderAnswerArrivingLateDoesNotShortenIt() {
    LeaderLease lease = new LeaderLease("node0", 1, LEASE);
    lease.answered("node0", 1000);
    lease.answered("node1", 1000);
    lease.answered("node1", 200);
    lease.answered("node0", 200);
    assertTrue(lease.holds(1800));
  }

  @Test
  public void theLeadersOwnReplicaBoundsItToo() {
    LeaderLease lease = new LeaderLease("node0", 1, LEASE);
    lease.answered("node1", 1000);
    lease.answered("node0", 100);
    assertTrue(lease.holds(999));
    assertFalse(lease.holds(1000));
  }

  @Test
  public void worksAcrossNegativeClockValues() {
    LeaderLease lease = new LeaderLease("node0", 1, LEASE);
    lease.answered("node0", -1000);
    lease.answered("node1", -1000);
    assertTrue(lease.holds(-101));
    assertFalse(lease.holds(-100));
  }

  @Test
  public void isNineTenthsOfTheElectionTimeout() {
    assertEquals(900_000_000L, LeaderLease.leaseFor(1_000_000_000L));
  }
}
