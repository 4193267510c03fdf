package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.Set;
import org.junit.ClassRule;
import org.junit.Test;

/** One test per outcome of a write's aggregator: quorum reached, follower lost, timeout. */
public class QuorumAggregatorTest {
  @ClassRule
  public static final TestKitJunitResource testKit = new TestKitJunitResource("akka.actor.provider = local");

  private static final Set<String> FIVE = Set.of("node1", "node2", "node3", "node4", "node5");
  private static final Duration NO_REPLY = Duration.ofMillis(200);

  private ActorRef<QuorumAggregator.Command> aggregator(int quorum, Duration timeout, TestProbe<WriteResult> client) {
    return testKit.spawn(QuorumAggregator.create(42, "k", quorum, FIVE, timeout, client.ref()::tell, "node0"));
  }

  @Test
  public void answersAtTheWthAckWithoutWaitingForTheRest() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = aggregator(3, Duration.ofSeconds(10), client);
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerAcked("node2"));
    client.expectNoMessage(NO_REPLY);
    agg.tell(new QuorumAggregator.FollowerAcked("node3"));
    client.expectMessage(new WriteResult.Written("k", 42, 3, 3, "node0"));
    client.expectTerminated(agg);
  }

  @Test
  public void waitsForTheLeadersOwnDurableWrite() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = aggregator(2, Duration.ofSeconds(10), client);
    agg.tell(new QuorumAggregator.FollowerAcked("node4"));
    agg.tell(new QuorumAggregator.FollowerAcked("node5"));
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    client.expectNoMessage(NO_REPLY);
    agg.tell(new QuorumAggregator.LeaderDurable());
    WriteResult.Written written = client.expectMessageClass(WriteResult.Written.class);
    assertEquals(3, written.acks()); // all acks seen so far are reported, not just the quorum
  }

  @Test
  public void duplicateAcksFromOneFollowerCountOnce() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = aggregator(2, Duration.ofMillis(500), client);
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    WriteResult.QuorumNotReached failed = client.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertEquals(1, failed.acks());
    assertEquals(2, failed.quorum());
  }

  @Test
  public void oneFollowerNeverAnsweringTimesOutWithTheCounts() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = aggregator(5, Duration.ofMillis(300), client);
    agg.tell(new QuorumAggregator.LeaderDurable());
    for (String n : new String[] {"node1", "node2", "node3", "node4"}) {
      agg.tell(new QuorumAggregator.FollowerAcked(n));
    }
    WriteResult.QuorumNotReached failed = client.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertEquals(4, failed.acks());
    assertEquals(5, failed.quorum());
    assertEquals(42, failed.version());
    assertTrue(failed.reason(), failed.reason().contains("4 of 5"));
    client.expectTerminated(agg);
  }

  @Test
  public void aFollowerStoppingBeforeAnsweringFailsAtOnceWhenTheQuorumIsOutOfReach() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = aggregator(4, Duration.ofSeconds(30), client);
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerLost("node2")); // 1 acked + 3 awaited: still possible
    client.expectNoMessage(NO_REPLY);
    agg.tell(new QuorumAggregator.FollowerLost("node3")); // 1 acked + 2 awaited < 4
    WriteResult.QuorumNotReached failed =
        client.expectMessageClass(WriteResult.QuorumNotReached.class, Duration.ofSeconds(1));
    assertEquals(1, failed.acks());
    assertEquals(4, failed.quorum());
  }

  @Test
  public void aFollowerLostAfterItAckedStillCounts() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = aggregator(2, Duration.ofSeconds(30), client);
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerLost("node1")); // already durable there: still counts
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node2"));
    assertEquals(2, client.expectMessageClass(WriteResult.Written.class).acks());
  }

  @Test
  public void neverRepliesTwice() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = aggregator(1, Duration.ofMillis(300), client);
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerAcked("node2"));
    client.expectMessageClass(WriteResult.Written.class);
    client.expectTerminated(agg);
    client.expectNoMessage(Duration.ofMillis(500)); // the timeout is gone with the actor
  }

  // --- entries whose outcome is known only once applied (compare-and-set, prefix delete, txn) ---

  private ActorRef<QuorumAggregator.Command> awaitingOutcome(
      int quorum, Duration timeout, TestProbe<WriteResult> client, TestProbe<FollowerActor.Command> replica) {
    return testKit.spawn(QuorumAggregator.awaitingOutcome(42, 7, "k", quorum, FIVE, timeout, client.ref()::tell,
        "node0", replica.ref()));
  }

  @Test
  public void aConditionalWriteIsAnsweredWithItsOutcomeOnlyOnceTheLeadersReplicaAppliedIt() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    TestProbe<FollowerActor.Command> replica = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = awaitingOutcome(2, Duration.ofSeconds(10), client, replica);
    FollowerActor.AwaitOutcome await = replica.expectMessageClass(FollowerActor.AwaitOutcome.class);
    assertEquals(42, await.index());
    assertEquals(7, await.term());
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerAcked("node2"));
    client.expectNoMessage(NO_REPLY); // quorum, but not applied yet
    await.replyTo().tell(new FollowerActor.OutcomeKnown(42,
        java.util.Optional.of(new quorumkv.storage.EntryOutcome.ConditionFailed(7, "k", 40))));
    client.expectMessage(new WriteResult.ConditionFailed("k", 42, 40, "node0"));
    client.expectTerminated(agg);
  }

  @Test
  public void anAppliedOutcomeStillWaitsForTheQuorum() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    TestProbe<FollowerActor.Command> replica = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = awaitingOutcome(3, Duration.ofSeconds(10), client, replica);
    FollowerActor.AwaitOutcome await = replica.expectMessageClass(FollowerActor.AwaitOutcome.class);
    await.replyTo().tell(new FollowerActor.OutcomeKnown(42,
        java.util.Optional.of(new quorumkv.storage.EntryOutcome.Done(7))));
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    agg.tell(new QuorumAggregator.FollowerAcked("node2"));
    client.expectNoMessage(NO_REPLY); // w=3 asked for
    agg.tell(new QuorumAggregator.FollowerAcked("node3"));
    client.expectMessage(new WriteResult.Written("k", 42, 3, 3, "node0"));
  }

  @Test
  public void anEntryReplacedAtItsIndexIsInDoubtAndAnUnappliedOneTimesOutInDoubt() {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    TestProbe<FollowerActor.Command> replica = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> agg = awaitingOutcome(1, Duration.ofSeconds(10), client, replica);
    FollowerActor.AwaitOutcome await = replica.expectMessageClass(FollowerActor.AwaitOutcome.class);
    agg.tell(new QuorumAggregator.LeaderDurable());
    agg.tell(new QuorumAggregator.FollowerAcked("node1"));
    await.replyTo().tell(new FollowerActor.OutcomeKnown(42, java.util.Optional.empty()));
    WriteResult.QuorumNotReached replaced = client.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertTrue(replaced.reason(), replaced.reason().contains("in doubt"));

    TestProbe<WriteResult> client2 = testKit.createTestProbe();
    ActorRef<QuorumAggregator.Command> slow = awaitingOutcome(1, Duration.ofMillis(300), client2, replica);
    slow.tell(new QuorumAggregator.LeaderDurable());
    slow.tell(new QuorumAggregator.FollowerAcked("node1"));
    WriteResult.QuorumNotReached timedOut = client2.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertTrue(timedOut.reason(), timedOut.reason().contains("not applied on the leader within 300 ms"));
  }
}
