package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.Optional;
import org.junit.ClassRule;
import org.junit.Test;
import quorumkv.storage.EntryOutcome;

/**
 * One test per outcome of a write's aggregator: quorum reached, quorum out of reach, timeout (the
 * leader counts the acks, {@code WriteAcksTest}; the aggregator answers the client).
 */
public class QuorumAggregatorTest {
  @ClassRule
  public static final TestKitJunitResource testKit = new TestKitJunitResource("akka.actor.provider = local");

  private static final Duration NO_REPLY = Duration.ofMillis(200);

  private final TestProbe<WriteResult> client = testKit.createTestProbe();
  private final TestProbe<LeaderActor.Command> leader = testKit.createTestProbe();

  private ActorRef<QuorumAggregator.Command> aggregator(int quorum, Duration timeout) {
    return testKit.spawn(QuorumAggregator.create(42, "k", quorum, timeout, client.ref()::tell, "node0", leader.ref()));
  }

  @Test
  public void answersWithTheAcksCountedWhenTheLeaderReportsTheQuorum() {
    ActorRef<QuorumAggregator.Command> agg = aggregator(3, Duration.ofSeconds(10));
    client.expectNoMessage(NO_REPLY);
    agg.tell(new QuorumAggregator.QuorumReached(4));
    client.expectMessage(new WriteResult.Written("k", 42, 4, 3, "node0"));
    client.expectTerminated(agg);
    leader.expectNoMessage(NO_REPLY);
  }

  @Test
  public void aQuorumOutOfReachFailsAtOnceWithTheCounts() {
    ActorRef<QuorumAggregator.Command> agg = aggregator(4, Duration.ofSeconds(30));
    agg.tell(new QuorumAggregator.OutOfReach(1, 2));
    WriteResult.QuorumNotReached failed =
        client.expectMessageClass(WriteResult.QuorumNotReached.class, Duration.ofSeconds(1));
    assertEquals(1, failed.acks());
    assertEquals(4, failed.quorum());
    assertTrue(failed.reason(), failed.reason().contains("1 of 4 follower acks, and only 2 awaited"));
    client.expectTerminated(agg);
  }

  @Test
  public void atItsTimeoutItAsksTheLeaderWhichDecidesTheWriteAsTimedOut() {
    ActorRef<QuorumAggregator.Command> agg = aggregator(5, Duration.ofMillis(300));
    LeaderActor.WriteTimedOut asked = leader.expectMessageClass(LeaderActor.WriteTimedOut.class);
    assertEquals(42, asked.index());
    assertEquals(agg, asked.aggregator());
    client.expectNoMessage(NO_REPLY); // the leader decides
    agg.tell(new QuorumAggregator.TimedOut(4, true));
    WriteResult.QuorumNotReached failed = client.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertEquals(4, failed.acks());
    assertEquals(5, failed.quorum());
    assertEquals(42, failed.version());
    assertTrue(failed.reason(), failed.reason().contains("4 of 5 follower acks within 300 ms"));
    client.expectTerminated(agg);
  }

  @Test
  public void aQuorumTheLeaderReachedJustBeforeTheTimeoutIsStillAnsweredAsWritten() {
    ActorRef<QuorumAggregator.Command> agg = aggregator(2, Duration.ofMillis(200));
    leader.expectMessageClass(LeaderActor.WriteTimedOut.class);
    // the leader had decided already: its answer was on the way, it sends no TimedOut
    agg.tell(new QuorumAggregator.QuorumReached(2));
    assertEquals(2, client.expectMessageClass(WriteResult.Written.class).acks());
    client.expectTerminated(agg);
  }

  @Test
  public void neverRepliesTwice() {
    ActorRef<QuorumAggregator.Command> agg = aggregator(1, Duration.ofMillis(300));
    agg.tell(new QuorumAggregator.QuorumReached(1));
    agg.tell(new QuorumAggregator.OutOfReach(1, 0));
    client.expectMessageClass(WriteResult.Written.class);
    client.expectTerminated(agg);
    client.expectNoMessage(Duration.ofMillis(500)); // the timeout is gone with the actor
    leader.expectNoMessage(Duration.ofMillis(100));
  }

  // --- entries whose outcome is known only once applied (compare-and-set, prefix delete, txn) ---

  private final TestProbe<FollowerActor.Command> replica = testKit.createTestProbe();

  private ActorRef<QuorumAggregator.Command> awaitingOutcome(int quorum, Duration timeout) {
    return testKit.spawn(QuorumAggregator.awaitingOutcome(42, 7, "k", quorum, timeout, client.ref()::tell,
        "node0", leader.ref(), replica.ref()));
  }

  @Test
  public void aConditionalWriteIsAnsweredWithItsOutcomeOnlyOnceTheLeadersReplicaAppliedIt() {
    ActorRef<QuorumAggregator.Command> agg = awaitingOutcome(2, Duration.ofSeconds(10));
    FollowerActor.AwaitOutcome await = replica.expectMessageClass(FollowerActor.AwaitOutcome.class);
    assertEquals(42, await.index());
    assertEquals(7, await.term());
    agg.tell(new QuorumAggregator.QuorumReached(2));
    client.expectNoMessage(NO_REPLY); // quorum, but not applied yet
    await.replyTo().tell(new FollowerActor.OutcomeKnown(42, Optional.of(new EntryOutcome.ConditionFailed(7, "k", 40))));
    client.expectMessage(new WriteResult.ConditionFailed("k", 42, 40, "node0"));
    client.expectTerminated(agg);
  }

  @Test
  public void anAppliedOutcomeStillWaitsForTheQuorum() {
    ActorRef<QuorumAggregator.Command> agg = awaitingOutcome(3, Duration.ofSeconds(10));
    FollowerActor.AwaitOutcome await = replica.expectMessageClass(FollowerActor.AwaitOutcome.class);
    await.replyTo().tell(new FollowerActor.OutcomeKnown(42, Optional.of(new EntryOutcome.Done(7))));
    client.expectNoMessage(NO_REPLY); // w=3 asked for, and the leader has not reported it
    agg.tell(new QuorumAggregator.QuorumReached(3));
    client.expectMessage(new WriteResult.Written("k", 42, 3, 3, "node0"));
  }

  @Test
  public void anEntryReplacedAtItsIndexIsInDoubtAndAnUnappliedOneTimesOutInDoubtWithoutAskingTheLeader() {
    ActorRef<QuorumAggregator.Command> agg = awaitingOutcome(1, Duration.ofSeconds(10));
    FollowerActor.AwaitOutcome await = replica.expectMessageClass(FollowerActor.AwaitOutcome.class);
    agg.tell(new QuorumAggregator.QuorumReached(1));
    await.replyTo().tell(new FollowerActor.OutcomeKnown(42, Optional.empty()));
    WriteResult.QuorumNotReached replaced = client.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertTrue(replaced.reason(), replaced.reason().contains("in doubt"));

    ActorRef<QuorumAggregator.Command> slow = awaitingOutcome(1, Duration.ofMillis(300));
    slow.tell(new QuorumAggregator.QuorumReached(1));
    WriteResult.QuorumNotReached timedOut = client.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertTrue(timedOut.reason(), timedOut.reason().contains("not applied on the leader within 300 ms"));
    leader.expectNoMessage(NO_REPLY); // the quorum was known here: nothing to ask
  }

  @Test
  public void aQuorumReachedAfterTheTimeoutButNotAppliedIsInDoubt() {
    ActorRef<QuorumAggregator.Command> agg = awaitingOutcome(2, Duration.ofMillis(200));
    leader.expectMessageClass(LeaderActor.WriteTimedOut.class);
    agg.tell(new QuorumAggregator.QuorumReached(2)); // decided at the leader before it saw the timeout
    WriteResult.QuorumNotReached failed = client.expectMessageClass(WriteResult.QuorumNotReached.class);
    assertTrue(failed.reason(), failed.reason().contains("not applied on the leader within 200 ms"));
    client.expectTerminated(agg);
  }
}
