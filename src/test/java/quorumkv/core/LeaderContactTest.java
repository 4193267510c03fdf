package quorumkv.core;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class LeaderContactTest {
  private static final long MIN_TIMEOUT = 1_000;
  private static final long JOINED = 10_000;

  @Test
  public void aReplicaThatAnsweredALeaderInAnEarlierLifeHelpsNobodyCampaignInItsFirstTimeoutAfterJoining() {
    LeaderContact contact = new LeaderContact(MIN_TIMEOUT);
    contact.recovered(3);
    assertFalse(contact.grantsPreVote("node2", 8, 3, JOINED, JOINED));
    assertFalse(contact.grantsPromise("node2", JOINED + MIN_TIMEOUT - 1, JOINED));
    assertTrue(contact.grantsPreVote("node2", 8, 3, JOINED + MIN_TIMEOUT, JOINED));
    assertTrue(contact.grantsPromise("node2", JOINED + MIN_TIMEOUT, JOINED));
  }

  @Test
  public void aReplicaThatNeverTookATermBeforeThisLifeNeedNotWaitOnceJoined() {
    LeaderContact contact = new LeaderContact(MIN_TIMEOUT);
    contact.recovered(0);
    assertFalse("not joined: nobody could have reached it", contact.grantsPreVote("node2", 8, 0, JOINED, 0));
    assertFalse(contact.grantsPromise("node2", JOINED, 0));
    assertTrue(contact.grantsPreVote("node2", 8, 0, JOINED, JOINED));
    assertTrue(contact.grantsPromise("node2", JOINED, JOINED));
    // A promise in this life (to a candidate that then lost) changes nothing: no leader was heard.
    assertTrue(contact.grantsPreVote("node2", 14, 8, JOINED + 1, JOINED));
    assertTrue(contact.grantsPromise("node3", JOINED + 1, JOINED));
  }

  @Test
  public void beforeRecoveryNoReplicaCountsAsNew() {
    LeaderContact contact = new LeaderContact(MIN_TIMEOUT);
    assertFalse(contact.grantsPromise("node2", JOINED, JOINED));
  }

  @Test
  public void aLeaderHeardFromInThisLifeStillComesFirst() {
    LeaderContact contact = new LeaderContact(MIN_TIMEOUT);
    contact.recovered(0);
    contact.heard(4, "node4", JOINED + 5);
    long soon = JOINED + 5 + MIN_TIMEOUT - 1;
    assertFalse(contact.grantsPreVote("node2", 8, 4, soon, JOINED));
    assertFalse(contact.grantsPromise("node2", soon, JOINED));
    assertTrue("that leader itself may campaign again", contact.grantsPromise("node4", soon, JOINED));
    assertTrue(contact.grantsPromise("node2", soon + 1, JOINED));
  }

  @Test
  public void aReplicaThatJustPromisedACandidateGrantsItsRivalsNoPreVoteForAMinimumElectionTimeout() {
    LeaderContact contact = new LeaderContact(MIN_TIMEOUT);
    contact.recovered(0);
    contact.promised("node0", JOINED + 5);
    long soon = JOINED + 5 + MIN_TIMEOUT - 1;
    assertFalse("a rival would depose the leader that promise is about to make",
        contact.grantsPreVote("node3", 9, 6, soon, JOINED));
    assertTrue("the candidate it promised may ask again", contact.grantsPreVote("node0", 12, 6, soon, JOINED));
    assertTrue("the promised candidate's campaign failed: after a timeout anyone may try",
        contact.grantsPreVote("node3", 9, 6, soon + 1, JOINED));
    assertTrue("promises are not held up by it (the term decides)", contact.grantsPromise("node3", soon, JOINED));
  }
}
