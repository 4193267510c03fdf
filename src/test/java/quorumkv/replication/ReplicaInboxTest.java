package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.ClassRule;
import org.junit.Test;
import quorumkv.storage.LogEntry;

/**
 * The replica's inbox: Replicates that arrive while the replica persists go to it as one message,
 * every Replicate still gets its own answer, and nothing overtakes anything. The replica here is a
 * probe, so the test decides when it answers.
 */
public class ReplicaInboxTest {
  @ClassRule
  public static final TestKitJunitResource testKit = new TestKitJunitResource();

  private final TestProbe<FollowerActor.Command> replica = testKit.createTestProbe();
  private final TestProbe<FollowerActor.ReplicateReply> leader = testKit.createTestProbe();
  private final ActorRef<FollowerActor.Command> inbox = testKit.spawn(ReplicaInbox.create(forwardTo(replica.ref())));

  private static Behavior<FollowerActor.Command> forwardTo(ActorRef<FollowerActor.Command> probe) {
    return Behaviors.receive((ctx, msg) -> {
      probe.tell(msg);
      return Behaviors.same();
    });
  }

  private static List<LogEntry> entries(long from, long to) {
    return LongStream.rangeClosed(from, to).mapToObj(i -> new LogEntry(i, 1, "k" + i, "v" + i)).toList();
  }

  private FollowerActor.Replicate replicate(long prevIndex, List<LogEntry> entries, long commit) {
    return new FollowerActor.Replicate(1, "leader", prevIndex, prevIndex == 0 ? 0 : 1, entries, commit, leader.ref());
  }

  private FollowerActor.Replicate received() {
    return replica.expectMessageClass(FollowerActor.Replicate.class);
  }

  @Test
  public void replicatesArrivingWhileTheReplicaPersistsReachItAsOneAndEachIsAnswered() {
    inbox.tell(replicate(0, entries(1, 2), 0));
    FollowerActor.Replicate first = received();
    assertEquals(entries(1, 2), first.entries());

    inbox.tell(replicate(2, entries(3, 4), 1));
    inbox.tell(replicate(4, entries(5, 5), 2));
    inbox.tell(replicate(5, List.of(), 3)); // a heartbeat continues them too
    replica.expectNoMessage(Duration.ofMillis(200)); // held while the first is being persisted

    first.replyTo().tell(new FollowerActor.Acked("f", 1, 2));
    assertEquals(new FollowerActor.Acked("f", 1, 2), leader.receiveMessage());

    FollowerActor.Replicate merged = received();
    assertEquals(2, merged.prevIndex());
    assertEquals(entries(3, 5), merged.entries());
    assertEquals("the newest commit index", 3, merged.leaderCommit());

    merged.replyTo().tell(new FollowerActor.Acked("f", 1, 5));
    assertEquals("each answer says what its own message carried",
        List.of(new FollowerActor.Acked("f", 1, 4), new FollowerActor.Acked("f", 1, 5),
            new FollowerActor.Acked("f", 1, 5)),
        leader.receiveSeveralMessages(3));
  }

  @Test
  public void replicatesThatDoNotContinueEachOtherAreNotMergedAndAGapAnswersEveryMergedOne() {
    inbox.tell(replicate(0, entries(1, 3), 0));
    FollowerActor.Replicate first = received();
    inbox.tell(replicate(3, entries(4, 4), 0));
    inbox.tell(replicate(4, entries(5, 5), 0));
    inbox.tell(replicate(1, entries(2, 2), 0)); // a probe from further back: not a continuation
    first.replyTo().tell(new FollowerActor.Gap("f", 1, 1));
    assertEquals(new FollowerActor.Gap("f", 1, 1), leader.receiveMessage());

    FollowerActor.Replicate merged = received();
    assertEquals(entries(4, 5), merged.entries());
    FollowerActor.Replicate probe = received();
    assertEquals(1, probe.prevIndex());
    assertEquals(entries(2, 2), probe.entries());

    merged.replyTo().tell(new FollowerActor.Gap("f", 1, 1));
    probe.replyTo().tell(new FollowerActor.Acked("f", 1, 2));
    assertEquals(List.of(new FollowerActor.Gap("f", 1, 1), new FollowerActor.Gap("f", 1, 1),
        new FollowerActor.Acked("f", 1, 2)), leader.receiveSeveralMessages(3));
  }

  @Test
  public void otherCommandsNeverOvertakeHeldReplicates() {
    inbox.tell(replicate(0, entries(1, 1), 0));
    FollowerActor.Replicate first = received();
    inbox.tell(replicate(1, entries(2, 2), 0));
    TestProbe<FollowerActor.PrepareReply> candidate = testKit.createTestProbe();
    inbox.tell(new FollowerActor.Prepare(7, "other", candidate.ref()));

    assertEquals(entries(2, 2), received().entries());
    assertTrue(replica.receiveMessage() instanceof FollowerActor.Prepare);
    first.replyTo().tell(new FollowerActor.Acked("f", 1, 1));
    assertEquals(new FollowerActor.Acked("f", 1, 1), leader.receiveMessage());
  }

  @Test
  public void aReplicaThatNeverAnswersDoesNotHoldBackTheLeadersResends() {
    inbox.tell(replicate(0, entries(1, 1), 0));
    received(); // lost: the replica restarted, say
    inbox.tell(replicate(0, entries(1, 1), 0));
    FollowerActor.Replicate resent =
        replica.expectMessageClass(FollowerActor.Replicate.class, ReplicaInbox.STUCK_AFTER.plusSeconds(2));
    resent.replyTo().tell(new FollowerActor.Acked("f", 1, 1));
    assertEquals(new FollowerActor.Acked("f", 1, 1), leader.receiveMessage());
  }
}
