package quorumkv.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** The quorum arithmetic: W counts followers only, the leader's own durable write is always needed. */
public class QuorumTest {

  @Test
  public void committedIndexIsTheWthLargestFollowerMatchIndex() {
    long[] followers = {7, 10, 6, 9, 8};

    assertEquals(10, Quorum.committedIndex(10, followers, 1));
    assertEquals(9, Quorum.committedIndex(10, followers, 2));
    assertEquals(8, Quorum.committedIndex(10, followers, 3));
    assertEquals(7, Quorum.committedIndex(10, followers, 4));
  }

  @Test
  public void withAllFiveFollowersRequiredTheSlowestFollowerDecides() {
    assertEquals(6, Quorum.committedIndex(10, new long[] {7, 10, 6, 9, 8}, 5));
    assertEquals(0, Quorum.committedIndex(10, new long[] {7, 10, 0, 9, 8}, 5));
  }

  @Test
  public void withQuorumZeroTheLeadersOwnDurableWriteIsEnough() {
    assertEquals(12, Quorum.committedIndex(12, new long[] {0, 0, 0, 0, 0}, 0));
    assertEquals(12, Quorum.committedIndex(12, new long[] {}, 0));
    assertEquals(0, Quorum.committedIndex(0, new long[] {5, 5, 5}, 0));
  }

  @Test
  public void fewerFollowersThanTheQuorumCommitNothing() {
    assertEquals(0, Quorum.committedIndex(10, new long[] {10, 10}, 3));
    assertEquals(0, Quorum.committedIndex(10, new long[] {}, 1));
    assertEquals(10, Quorum.committedIndex(10, new long[] {10, 10, 10}, 3));
  }

  @Test
  public void aLeaderBehindItsFollowersCapsTheCommittedIndex() {
    assertEquals(4, Quorum.committedIndex(4, new long[] {10, 10, 10, 10, 10}, 3));
    assertEquals(4, Quorum.committedIndex(4, new long[] {10, 10, 10, 10, 10}, 5));
    assertEquals(3, Quorum.committedIndex(4, new long[] {10, 10, 3, 2, 1}, 3));
  }

  @Test
  public void committedIndexDoesNotReorderTheCallersArray() {
    long[] followers = {7, 10, 6, 9, 8};

    Quorum.committedIndex(10, followers, 3);

    assertArrayEquals(new long[] {7, 10, 6, 9, 8}, followers);
  }

  @Test
  public void aWriteIsPossibleOnlyWhenAtLeastWFollowersAreReachable() {
    assertTrue(Quorum.reachable(5, 3));
    assertTrue(Quorum.reachable(3, 3));
    assertFalse(Quorum.reachable(2, 3));
    assertTrue(Quorum.reachable(0, 0));
    assertTrue(Quorum.reachable(5, 5));
    assertFalse(Quorum.reachable(4, 5));
    assertFalse(Quorum.reachable(0, 1));
  }
}
